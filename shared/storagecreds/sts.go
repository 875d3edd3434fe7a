package storagecreds

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/files"
)

// AssumeRoleAPI is the one STS call used, so tests can hand in a client
// whose HTTP layer is canned.
type AssumeRoleAPI interface {
	AssumeRole(ctx context.Context, in *sts.AssumeRoleInput, opts ...func(*sts.Options)) (*sts.AssumeRoleOutput, error)
}

// STS issues credentials by assuming RoleARN (UPLOAD_ROLE_ARN) with a
// session policy. The effective permissions are the intersection of the
// role's policy and the session policy, so even a role allowed the whole
// bucket yields credentials for one user's keys only.
type STS struct {
	Client  AssumeRoleAPI
	RoleARN string
	Bucket  string
	// Duration of the credentials; STS accepts 15 minutes up to the
	// role's maximum session duration (default one hour).
	Duration time.Duration
}

// DefaultDuration is one hour: the role's default maximum, long enough for
// a large upload with the SDK's multipart manager.
const DefaultDuration = time.Hour

// Issue implements Issuer.
//
// S3 accepts the session's credentials until they expire, whatever becomes
// of the key that asked for them: the session is short (an hour at most) for
// that reason.
func (s *STS) Issue(ctx context.Context, userID, _ string, paths []string) (Grant, error) {
	if err := CheckPaths(userID, paths); err != nil {
		return Grant{}, err
	}
	policy, err := SessionPolicy(s.Bucket, userID, paths)
	if err != nil {
		return Grant{}, err
	}
	d := s.Duration
	if d == 0 {
		d = DefaultDuration
	}
	out, err := s.Client.AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn: aws.String(s.RoleARN),
		// The session name appears in CloudTrail and in the S3 events'
		// principalId, tying each direct upload to its user.
		RoleSessionName: aws.String(sessionName(userID)),
		Policy:          aws.String(policy),
		DurationSeconds: aws.Int32(int32(d / time.Second)),
	})
	if err != nil {
		return Grant{}, fmt.Errorf("assume upload role for %s: %w", userID, err)
	}
	c := out.Credentials
	if c == nil {
		return Grant{}, fmt.Errorf("assume upload role for %s: no credentials in the response", userID)
	}
	return Grant{
		AccessKey:    aws.ToString(c.AccessKeyId),
		SecretKey:    aws.ToString(c.SecretAccessKey),
		SessionToken: aws.ToString(c.SessionToken),
		StorageDir:   StorageDir(userID),
		Expiration:   aws.ToTime(c.Expiration).UTC(),
	}, nil
}

var sessionNameChars = regexp.MustCompile(`[^\w+=,.@-]`)

// sessionName fits STS's RoleSessionName rules (2-64 of [\w+=,.@-]).
func sessionName(userID string) string {
	n := "rescale-" + sessionNameChars.ReplaceAllString(userID, "_")
	if len(n) > 64 {
		n = n[:64]
	}
	return n
}

// maxPolicy is STS's limit on a packed session policy.
const maxPolicy = 2048

type statement struct {
	Effect    string         `json:"Effect"`
	Action    []string       `json:"Action"`
	Resource  []string       `json:"Resource"`
	Condition map[string]any `json:"Condition,omitempty"`
}

// SessionPolicy is the IAM policy limiting the credentials to the user's
// prefix, or to paths within it: objects may be written (including by
// multipart upload, which s3:PutObject covers), read and their unfinished
// uploads aborted; listing is allowed only under the same keys.
func SessionPolicy(bucket, userID string, paths []string) (string, error) {
	prefix := files.UserPrefix(userID)
	var objects, listPrefixes []string
	if len(paths) == 0 {
		objects = []string{"arn:aws:s3:::" + bucket + "/" + prefix + "*"}
		listPrefixes = []string{prefix, prefix + "*"}
	}
	for _, p := range paths {
		res := "arn:aws:s3:::" + bucket + "/" + p
		lp := p
		if p[len(p)-1] == '/' {
			res += "*"
			lp += "*"
		}
		objects = append(objects, res)
		listPrefixes = append(listPrefixes, lp)
	}
	doc := struct {
		Version   string      `json:"Version"`
		Statement []statement `json:"Statement"`
	}{
		Version: "2012-10-17",
		Statement: []statement{
			{Effect: "Allow", Action: []string{"s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"}, Resource: objects},
			{Effect: "Allow", Action: []string{"s3:ListBucket"}, Resource: []string{"arn:aws:s3:::" + bucket},
				Condition: map[string]any{"StringLike": map[string]any{"s3:prefix": listPrefixes}}},
		},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("encode session policy: %w", err)
	}
	if len(b) > maxPolicy {
		return "", errs.Field("paths", "too many or too long paths: ask for fewer, or for their common directory")
	}
	return string(b), nil
}
