package storagecreds_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openrescale/platform/shared/accounts"
	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/httpapi"
	"github.com/openrescale/platform/shared/storagecreds"
	"github.com/openrescale/platform/shared/storagecreds/stscreds"
	"github.com/openrescale/platform/shared/store/boltstore"
)

// keyJobs is a fixed key → job table.
type keyJobs map[string]string

func (k keyJobs) KeyJob(_ context.Context, _, keyID string) (string, error) { return k[keyID], nil }

// grants is what a session policy allows, action → resources.
func grants(t *testing.T, policy string) map[string][]string {
	t.Helper()
	var p policyDoc
	if err := json.Unmarshal([]byte(policy), &p); err != nil {
		t.Fatalf("policy %q: %v", policy, err)
	}
	out := map[string][]string{}
	for _, st := range p.Statement {
		for _, a := range st.Action {
			if a == "s3:ListBucket" {
				out[a] = append(out[a], st.Condition["StringLike"]["s3:prefix"]...)
				continue
			}
			out[a] = append(out[a], st.Resource...)
		}
	}
	for _, v := range out {
		slices.Sort(v)
	}
	return out
}

// TestScopedNarrowsJobKeys: credentials asked for with a running job's key
// write only under the job's output prefix; a user's own key gets what it
// asks for.
func TestScopedNarrowsJobKeys(t *testing.T) {
	const bucket = "openrescale-files"
	obj := func(k string) string { return "arn:aws:s3:::" + bucket + "/" + k }
	out := "user/user_alice1/output/job_J0b1/"
	tests := []struct {
		name   string
		key    string
		paths  []string
		put    []string
		get    []string
		listed []string
	}{
		{name: "the agent's request", key: "jobkey", paths: []string{out + "run1/", "user/user_alice1/in.zip-1"},
			put:    []string{obj(out + "run1/*")},
			get:    []string{obj(out + "run1/*"), obj("user/user_alice1/in.zip-1")},
			listed: []string{out + "run1/*", "user/user_alice1/in.zip-1"}},
		{name: "a job key asking for everything", key: "jobkey",
			put:    []string{obj(out + "*")},
			get:    []string{obj(out + "*"), obj("user/user_alice1/*")},
			listed: []string{out + "*", "user/user_alice1/*"}},
		{name: "a job key asking to write another job's outputs", key: "jobkey", paths: []string{"user/user_alice1/output/job_Other/run1/"},
			get:    []string{obj("user/user_alice1/output/job_Other/run1/*")},
			listed: []string{"user/user_alice1/output/job_Other/run1/*"}},
		{name: "the user's own key", key: "userkey", paths: []string{"user/user_alice1/in.zip-1"},
			put:    []string{obj("user/user_alice1/in.zip-1")},
			get:    []string{obj("user/user_alice1/in.zip-1")},
			listed: []string{"user/user_alice1/in.zip-1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var form url.Values
			iss := storagecreds.Scoped{
				Issuer: &stscreds.Issuer{Client: stsClient(t, &form), RoleARN: "arn:aws:iam::123456789012:role/openrescale-upload", Bucket: bucket},
				Jobs:   keyJobs{"jobkey": "J0b1"},
			}
			if _, err := iss.Issue(t.Context(), "alice1", tc.key, tc.paths); err != nil {
				t.Fatal(err)
			}
			g := grants(t, form.Get("Policy"))
			slices.Sort(tc.get)
			slices.Sort(tc.listed)
			if !slices.Equal(g["s3:PutObject"], tc.put) || !slices.Equal(g["s3:AbortMultipartUpload"], tc.put) {
				t.Errorf("writes %v, want %v", g["s3:PutObject"], tc.put)
			}
			if !slices.Equal(g["s3:GetObject"], tc.get) {
				t.Errorf("reads %v, want %v", g["s3:GetObject"], tc.get)
			}
			if !slices.Equal(g["s3:ListBucket"], tc.listed) {
				t.Errorf("listing %v, want %v", g["s3:ListBucket"], tc.listed)
			}
		})
	}
	// Paths outside the owner's directory are refused for job keys too.
	var form url.Values
	iss := storagecreds.Scoped{Issuer: &stscreds.Issuer{Client: stsClient(t, &form), Bucket: bucket}, Jobs: keyJobs{"jobkey": "J0b1"}}
	if _, err := iss.Issue(t.Context(), "alice1", "jobkey", []string{"user/user_bob/x"}); !errs.Is(err, errs.Forbidden) {
		t.Fatalf("another user's path: %v", err)
	}
}

// TestLocalIssueAccess: the local grant covers the Access's paths, read
// and write alike, and nothing else.
func TestLocalIssueAccess(t *testing.T) {
	l := &storagecreds.Local{Secret: []byte("0123456789abcdef0123456789abcdef"), Now: time.Now}
	a := storagecreds.JobAccess("alice1", "J0b1", []string{"user/user_alice1/output/job_J0b1/run1/", "user/user_alice1/in.zip-1"})
	g, err := l.IssueAccess(t.Context(), "alice1", "jobkey", a)
	if err != nil {
		t.Fatal(err)
	}
	for key, ok := range map[string]bool{
		"user/user_alice1/output/job_J0b1/run1/x.txt": true,
		"user/user_alice1/in.zip-1":                   true,
		"user/user_alice1/other.txt":                  false,
	} {
		if _, err := l.Authorize(g.SessionToken, key); (err == nil) != ok {
			t.Errorf("%s: %v, want allowed %v", key, err, ok)
		}
	}
	if _, err := l.IssueAccess(t.Context(), "alice1", "jobkey", storagecreds.Access{}); !errs.Is(err, errs.Invalid) {
		t.Fatalf("an empty Access: %v", err)
	}
}

// TestAccountKeyJobs finds a key's job among more keys than one page.
func TestAccountKeyJobs(t *testing.T) {
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "store.db"), boltstore.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc := accounts.New(st, time.Now)
	ctx := t.Context()
	u, err := svc.EnsureUser(ctx, "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	own, _, err := svc.CreateKey(ctx, u.ID, accounts.KeyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var last accounts.APIKey
	for i := range 130 {
		if last, _, err = svc.CreateKey(ctx, u.ID, accounts.KeyOptions{JobID: fmt.Sprintf("job%03d", i), TTL: time.Hour}); err != nil {
			t.Fatal(err)
		}
	}
	kj := storagecreds.AccountKeyJobs{Keys: svc}
	for _, tc := range []struct{ key, want string }{{own.ID, ""}, {last.ID, "job129"}, {"nosuchkey", ""}} {
		got, err := kj.KeyJob(ctx, u.ID, tc.key)
		if err != nil || got != tc.want {
			t.Errorf("key %s: job %q, %v; want %q", tc.key, got, err, tc.want)
		}
	}
	if !strings.HasSuffix(storagecreds.JobOutputPrefix(u.ID, "job1"), "/output/job_job1/") {
		t.Fatal(storagecreds.JobOutputPrefix(u.ID, "job1"))
	}
}

// recordingJobs answers from a table and counts the lookups.
type recordingJobs struct {
	jobs  keyJobs
	calls int
}

func (r *recordingJobs) KeyJob(ctx context.Context, userID, keyID string) (string, error) {
	r.calls++
	return r.jobs.KeyJob(ctx, userID, keyID)
}

// TestCallerKeyJobs answers for the caller's own key from its principal,
// without a lookup, and asks the fallback for anything the principal does
// not settle: another key, another user, or a principal that does not
// know its job (an authorizer context cached before jobId existed, which
// must not widen a job key's credentials to a user key's).
func TestCallerKeyJobs(t *testing.T) {
	fallback := keyJobs{"jobkey": "J0b1", "userkey": ""}
	tests := []struct {
		name      string
		principal *httpapi.Principal
		user, key string
		want      string
		lookups   int
	}{
		{"job key known", &httpapi.Principal{UserID: "alice1", KeyID: "jobkey", JobID: "J0b1", JobKnown: true}, "alice1", "jobkey", "J0b1", 0},
		{"user key known", &httpapi.Principal{UserID: "alice1", KeyID: "userkey", JobKnown: true}, "alice1", "userkey", "", 0},
		{"job unknown: looked up", &httpapi.Principal{UserID: "alice1", KeyID: "jobkey"}, "alice1", "jobkey", "J0b1", 1},
		{"another key than the caller's", &httpapi.Principal{UserID: "alice1", KeyID: "userkey", JobKnown: true}, "alice1", "jobkey", "J0b1", 1},
		{"another user than the caller", &httpapi.Principal{UserID: "bob1", KeyID: "jobkey", JobKnown: true}, "alice1", "jobkey", "J0b1", 1},
		{"no principal", nil, "alice1", "jobkey", "J0b1", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			if tt.principal != nil {
				ctx = httpapi.WithPrincipal(ctx, *tt.principal)
			}
			rec := &recordingJobs{jobs: fallback}
			got, err := storagecreds.CallerKeyJobs{Fallback: rec}.KeyJob(ctx, tt.user, tt.key)
			if err != nil || got != tt.want || rec.calls != tt.lookups {
				t.Fatalf("job %q, %v, %d lookups; want %q, %d", got, err, rec.calls, tt.want, tt.lookups)
			}
		})
	}
}
