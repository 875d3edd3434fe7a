// Package stscreds issues storagecreds grants in AWS: STS session
// credentials of the upload role, assumed with a session policy.
//
// It is apart from storagecreds so that what only names the port (the API
// handlers, the local server) does not link the STS client, whose package
// initialisers run at every Lambda cold start; only the credentials
// routes' functions import it.
package stscreds

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/openrescale/platform/shared/storagecreds"
)

// AssumeRoleAPI is the one STS call used, so tests can hand in a client
// whose HTTP layer is canned.
type AssumeRoleAPI interface {
	AssumeRole(ctx context.Context, in *sts.AssumeRoleInput, opts ...func(*sts.Options)) (*sts.AssumeRoleOutput, error)
}

// Issuer issues credentials by assuming RoleARN (UPLOAD_ROLE_ARN) with a
// session policy. The effective permissions are the intersection of the
// role's policy and the session policy, so even a role allowed the whole
// bucket yields credentials for one user's keys only.
type Issuer struct {
	Client  AssumeRoleAPI
	RoleARN string
	Bucket  string
	// Duration of the credentials; STS accepts 15 minutes up to the
	// role's maximum session duration (default one hour).
	Duration time.Duration
}

var (
	_ storagecreds.Issuer       = (*Issuer)(nil)
	_ storagecreds.AccessIssuer = (*Issuer)(nil)
)

// Issue implements storagecreds.Issuer.
//
// S3 accepts the session's credentials until they expire, whatever becomes
// of the key that asked for them: the session is short (an hour at most) for
// that reason.
func (s *Issuer) Issue(ctx context.Context, userID, _ string, paths []string) (storagecreds.Grant, error) {
	if err := storagecreds.CheckPaths(userID, paths); err != nil {
		return storagecreds.Grant{}, err
	}
	policy, err := storagecreds.SessionPolicy(s.Bucket, userID, paths)
	if err != nil {
		return storagecreds.Grant{}, err
	}
	return s.assume(ctx, userID, policy)
}

// IssueAccess implements storagecreds.AccessIssuer: the session policy
// writes a.Write and only reads a.Read.
func (s *Issuer) IssueAccess(ctx context.Context, userID, _ string, a storagecreds.Access) (storagecreds.Grant, error) {
	if err := storagecreds.CheckAccess(userID, a); err != nil {
		return storagecreds.Grant{}, err
	}
	policy, err := storagecreds.AccessPolicy(s.Bucket, a)
	if err != nil {
		return storagecreds.Grant{}, err
	}
	return s.assume(ctx, userID, policy)
}

func (s *Issuer) assume(ctx context.Context, userID, policy string) (storagecreds.Grant, error) {
	d := s.Duration
	if d == 0 {
		d = storagecreds.DefaultDuration
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
		return storagecreds.Grant{}, fmt.Errorf("assume upload role for %s: %w", userID, err)
	}
	c := out.Credentials
	if c == nil {
		return storagecreds.Grant{}, fmt.Errorf("assume upload role for %s: no credentials in the response", userID)
	}
	return storagecreds.Grant{
		AccessKey:    aws.ToString(c.AccessKeyId),
		SecretKey:    aws.ToString(c.SecretAccessKey),
		SessionToken: aws.ToString(c.SessionToken),
		StorageDir:   storagecreds.StorageDir(userID),
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
