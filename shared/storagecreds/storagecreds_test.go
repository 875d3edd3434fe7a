package storagecreds_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/storagecreds"
)

// assumeRoleXML is STS's answer, as documented for AssumeRole.
const assumeRoleXML = `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <SourceIdentity>rescale</SourceIdentity>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/openrescale-upload/rescale-alice1</Arn>
      <AssumedRoleId>ARO123EXAMPLE123:rescale-alice1</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>
      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>
      <SessionToken>IQoJb3JpZ2luX2VjEOz////////////////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==</SessionToken>
      <Expiration>2025-03-14T10:26:53Z</Expiration>
    </Credentials>
    <PackedPolicySize>12</PackedPolicySize>
  </AssumeRoleResult>
  <ResponseMetadata>
    <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>
  </ResponseMetadata>
</AssumeRoleResponse>`

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// stsClient is a real STS client whose HTTP layer answers with the canned
// response and records the form it was sent.
func stsClient(t *testing.T, form *url.Values) *sts.Client {
	return sts.New(sts.Options{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		HTTPClient: &http.Client{Transport: roundTrip(func(r *http.Request) (*http.Response, error) {
			b, _ := io.ReadAll(r.Body)
			v, err := url.ParseQuery(string(b))
			if err != nil {
				t.Errorf("STS request body: %v", err)
			}
			*form = v
			return &http.Response{
				StatusCode: 200, Request: r,
				Header: http.Header{"Content-Type": {"text/xml"}, "X-Amzn-Requestid": {"c6104cbe"}},
				Body:   io.NopCloser(strings.NewReader(assumeRoleXML)),
			}, nil
		})},
	})
}

type policyDoc struct {
	Version   string
	Statement []struct {
		Effect    string
		Action    []string
		Resource  []string
		Condition map[string]map[string][]string
	}
}

func TestLocalGrant(t *testing.T) {
	now := time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)
	l := &storagecreds.Local{Secret: []byte("0123456789abcdef0123456789abcdef"), TTL: time.Hour, Now: func() time.Time { return now }}
	g, err := l.Issue(t.Context(), "alice1", "key001", nil)
	if err != nil {
		t.Fatal(err)
	}
	if g.StorageDir != "user/user_alice1" || g.AccessKey != storagecreds.LocalAccessKey || !g.Expiration.Equal(now.Add(time.Hour)) || g.DirectPath == "" {
		t.Fatalf("grant %+v", g)
	}
	if c, err := l.Authorize(g.SessionToken, "user/user_alice1/a/b.inp"); err != nil || c != (storagecreds.Claims{UserID: "alice1", KeyID: "key001"}) {
		t.Fatalf("own key: %+v %v", c, err)
	}
	if _, err := l.Issue(t.Context(), "alice1", "", nil); err == nil {
		t.Fatal("grant without an issuing key")
	}
	if _, err := l.Authorize(g.SessionToken, "user/user_bob001/a"); !errs.Is(err, errs.Forbidden) {
		t.Fatalf("other user's key: %v", err)
	}
	// Tampering with the payload (widening the paths) breaks the signature.
	parts := strings.Split(g.SessionToken, ".")
	other, _ := l.Issue(t.Context(), "bob001", "key002", nil)
	forged := parts[0] + "." + strings.Split(other.SessionToken, ".")[1] + "." + parts[2]
	if _, err := l.Authorize(forged, "user/user_bob001/a"); !errs.Is(err, errs.Unauthenticated) {
		t.Fatalf("forged grant: %v", err)
	}
	wrongKey := &storagecreds.Local{Secret: []byte("another-secret-another-secret-xx"), Now: l.Now}
	if _, err := wrongKey.Authorize(g.SessionToken, "user/user_alice1/a"); !errs.Is(err, errs.Unauthenticated) {
		t.Fatalf("other data dir's secret: %v", err)
	}
	paths, _ := l.Issue(t.Context(), "alice1", "key001", []string{"user/user_alice1/SGE/run.sh", "user/user_alice1/in/"})
	for key, ok := range map[string]bool{"user/user_alice1/SGE/run.sh": true, "user/user_alice1/in/x": true, "user/user_alice1/SGE/run.sh2": false, "user/user_alice1/other": false} {
		if _, err := l.Authorize(paths.SessionToken, key); (err == nil) != ok {
			t.Errorf("path grant on %q: %v", key, err)
		}
	}
	now = now.Add(time.Hour)
	if _, err := l.Authorize(g.SessionToken, "user/user_alice1/a"); !errs.Is(err, errs.Forbidden) {
		t.Fatalf("expired grant: %v", err)
	}
}
