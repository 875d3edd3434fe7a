package stscreds_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/storagecreds"
	"github.com/openrescale/platform/shared/storagecreds/stscreds"
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

func TestIssueScopesToPrefix(t *testing.T) {
	var form url.Values
	iss := &stscreds.Issuer{Client: stsClient(t, &form), RoleARN: "arn:aws:iam::123456789012:role/openrescale-upload", Bucket: "openrescale-files", Duration: 30 * time.Minute}
	g, err := iss.Issue(t.Context(), "alice1", "key001", nil)
	if err != nil {
		t.Fatal(err)
	}
	if g.AccessKey != "ASIAIOSFODNN7EXAMPLE" || g.SecretKey == "" || !strings.HasPrefix(g.SessionToken, "IQoJ") || g.StorageDir != "user/user_alice1" ||
		!g.Expiration.Equal(time.Date(2025, 3, 14, 10, 26, 53, 0, time.UTC)) {
		t.Fatalf("grant %+v", g)
	}
	if form.Get("Action") != "AssumeRole" || form.Get("RoleArn") != iss.RoleARN || form.Get("DurationSeconds") != "1800" || form.Get("RoleSessionName") != "rescale-alice1" {
		t.Fatalf("request %v", form)
	}
	var p policyDoc
	if err := json.Unmarshal([]byte(form.Get("Policy")), &p); err != nil {
		t.Fatalf("policy %q: %v", form.Get("Policy"), err)
	}
	if p.Version != "2012-10-17" || len(p.Statement) != 2 {
		t.Fatalf("policy %+v", p)
	}
	obj, list := p.Statement[0], p.Statement[1]
	if !slices.Equal(obj.Resource, []string{"arn:aws:s3:::openrescale-files/user/user_alice1/*"}) ||
		!slices.Contains(obj.Action, "s3:PutObject") || !slices.Contains(obj.Action, "s3:GetObject") || slices.Contains(obj.Action, "s3:DeleteObject") {
		t.Fatalf("object statement %+v", obj)
	}
	if !slices.Equal(list.Action, []string{"s3:ListBucket"}) || !slices.Equal(list.Resource, []string{"arn:aws:s3:::openrescale-files"}) ||
		!slices.Equal(list.Condition["StringLike"]["s3:prefix"], []string{"user/user_alice1/", "user/user_alice1/*"}) {
		t.Fatalf("list statement %+v", list)
	}
}

func TestIssueScopesToPaths(t *testing.T) {
	var form url.Values
	iss := &stscreds.Issuer{Client: stsClient(t, &form), RoleARN: "arn:aws:iam::1:role/u", Bucket: "b"}
	_, err := iss.Issue(t.Context(), "BNTMk", "key001", []string{"user/user_BNTMk/SGE/run.sh", "user/user_BNTMk/inputs/"})
	if err != nil {
		t.Fatal(err)
	}
	var p policyDoc
	if err := json.Unmarshal([]byte(form.Get("Policy")), &p); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Statement[0].Resource, []string{"arn:aws:s3:::b/user/user_BNTMk/SGE/run.sh", "arn:aws:s3:::b/user/user_BNTMk/inputs/*"}) ||
		!slices.Equal(p.Statement[1].Condition["StringLike"]["s3:prefix"], []string{"user/user_BNTMk/SGE/run.sh", "user/user_BNTMk/inputs/*"}) {
		t.Fatalf("policy %+v", p)
	}
	if form.Get("DurationSeconds") != "3600" {
		t.Fatalf("default duration %q", form.Get("DurationSeconds"))
	}
}

func TestPathsChecked(t *testing.T) {
	var form url.Values
	iss := &stscreds.Issuer{Client: stsClient(t, &form), RoleARN: "r", Bucket: "b"}
	tests := []struct {
		paths []string
		code  string
	}{
		{[]string{"user/user_bob001/x"}, errs.Forbidden},
		{[]string{"user/user_alice1x/x"}, errs.Forbidden},
		{[]string{"user/user_alice1/../user_bob001/x"}, errs.Invalid},
		{[]string{"user/user_alice1/*"}, errs.Invalid},
		{[]string{"/user/user_alice1/x"}, errs.Invalid},
		{slices.Repeat([]string{"user/user_alice1/x"}, storagecreds.MaxPaths+1), errs.Invalid},
	}
	for _, tt := range tests {
		form = nil
		if _, err := iss.Issue(t.Context(), "alice1", "key001", tt.paths); errs.Code(err) != tt.code {
			t.Errorf("paths %v: %v, want %s", tt.paths, err, tt.code)
		}
		if form != nil {
			t.Errorf("paths %v reached STS", tt.paths)
		}
	}
	long := []string{}
	for i := range storagecreds.MaxPaths {
		long = append(long, "user/user_alice1/"+strings.Repeat("d", 100)+string(rune('a'+i)))
	}
	if _, err := iss.Issue(t.Context(), "alice1", "key001", long); !errs.Is(err, errs.Invalid) {
		t.Errorf("oversized policy: %v", err)
	}
}
