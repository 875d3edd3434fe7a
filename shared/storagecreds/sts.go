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
	return s.assume(ctx, userID, policy)
}

// IssueAccess implements AccessIssuer: the session policy writes a.Write
// and only reads a.Read.
func (s *STS) IssueAccess(ctx context.Context, userID, _ string, a Access) (Grant, error) {
	if err := checkAccess(userID, a); err != nil {
		return Grant{}, err
	}
	policy, err := AccessPolicy(s.Bucket, a)
	if err != nil {
		return Grant{}, err
	}
	return s.assume(ctx, userID, policy)
}

func (s *STS) assume(ctx context.Context, userID, policy string) (Grant, error) {
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

// checkAccess validates an Access as CheckPaths does paths; it must name
// at least one path.
func checkAccess(userID string, a Access) error {
	all := append(append([]string(nil), a.Read...), a.Write...)
	if len(all) == 0 {
		return errs.Field("paths", "no paths to issue credentials for")
	}
	return CheckPaths(userID, all)
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
	if len(paths) == 0 {
		// The directory itself is listed too (s3:prefix "user/user_x/").
		return accessPolicy(bucket, Access{Write: []string{files.UserPrefix(userID)}}, true)
	}
	return accessPolicy(bucket, Access{Write: paths}, false)
}

// AccessPolicy is the session policy of an Access: reading (GetObject)
// and listing under every path, writing (PutObject, multipart uploads)
// only under a.Write.
func AccessPolicy(bucket string, a Access) (string, error) {
	return accessPolicy(bucket, a, false)
}

func accessPolicy(bucket string, a Access, listDirs bool) (string, error) {
	resources := func(paths []string) (objects, listPrefixes []string) {
		for _, p := range paths {
			res, lp := "arn:aws:s3:::"+bucket+"/"+p, p
			if p[len(p)-1] == '/' {
				res += "*"
				if listDirs {
					listPrefixes = append(listPrefixes, p)
				}
				lp += "*"
			}
			objects = append(objects, res)
			listPrefixes = append(listPrefixes, lp)
		}
		return objects, listPrefixes
	}
	readObjects, readList := resources(a.Read)
	writeObjects, writeList := resources(a.Write)
	var st []statement
	if len(writeObjects) > 0 {
		st = append(st, statement{Effect: "Allow", Action: []string{"s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"}, Resource: writeObjects})
	}
	if len(readObjects) > 0 {
		st = append(st, statement{Effect: "Allow", Action: []string{"s3:GetObject"}, Resource: readObjects})
	}
	st = append(st, statement{Effect: "Allow", Action: []string{"s3:ListBucket"}, Resource: []string{"arn:aws:s3:::" + bucket},
		Condition: map[string]any{"StringLike": map[string]any{"s3:prefix": append(writeList, readList...)}}})
	doc := struct {
		Version   string      `json:"Version"`
		Statement []statement `json:"Statement"`
	}{Version: "2012-10-17", Statement: st}
	b, err := json.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("encode session policy: %w", err)
	}
	if len(b) > maxPolicy {
		return "", errs.Field("paths", "too many or too long paths: ask for fewer, or for their common directory")
	}
	return string(b), nil
}
