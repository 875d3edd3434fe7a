package awsbatch_test

// Behaviours moto cannot show, tested at the SDK's HTTP layer: the real
// client talks to a RoundTripper that answers with AWS Batch's responses.
// moto has no SubmitJob rate limit, no job that stays RUNNING (without
// Docker every job is SUCCEEDED at once), and its Docker-less backend
// drops nodeOverrides.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/batch"

	"github.com/openrescale/platform/shared/compute"
	"github.com/openrescale/platform/shared/compute/agentspec"
	"github.com/openrescale/platform/shared/compute/awsbatch"
	"github.com/openrescale/platform/shared/errs"
)

// throttled is what AWS Batch answers a SubmitJob over the account's rate
// (50 per second): status 429 with error code TooManyRequestsException,
// reported by its users as "Too Many Requests (Service: AWSBatch; Status
// Code: 429; Error Code: TooManyRequestsException)" (ASFHyP3/hyp3#1676,
// nextflow-io/nextflow#710). Its headers follow AWS's REST-JSON protocol,
// error type with the namespace suffix the SDK strips.
func throttled() *http.Response {
	return response(429, map[string]string{
		"X-Amzn-Errortype": "TooManyRequestsException:http://internal.amazon.com/coral/com.amazon.batch/",
	}, `{"message":"Too Many Requests"}`)
}

// clientException is Batch's answer to a request it refuses (HTTP 400).
func clientException(msg string) *http.Response {
	return response(400, map[string]string{"X-Amzn-Errortype": "ClientException:"},
		fmt.Sprintf(`{"__type":"ClientException","message":%q}`, msg))
}

func submitted(id, name string) *http.Response {
	return response(200, nil, fmt.Sprintf(`{"jobArn":"arn:aws:batch:us-east-1:123456789012:job/%s","jobName":%q,"jobId":%q}`, id, name, id))
}

func response(status int, headers map[string]string, body string) *http.Response {
	h := http.Header{"Content-Type": {"application/json"}, "X-Amzn-Requestid": {"8c6b2219-1c07-4c9d-bb18-99facd090b01"}}
	for k, v := range headers {
		h.Set(k, v)
	}
	return &http.Response{StatusCode: status, Status: fmt.Sprintf("%d %s", status, http.StatusText(status)),
		Header: h, Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body))}
}

// batchAPI answers the client's requests by operation (the path's last
// element: submitjob, describejobs, terminatejob) and records them.
type batchAPI struct {
	mu       sync.Mutex
	answer   func(op string, body []byte) *http.Response
	requests map[string][][]byte
}

func (a *batchAPI) Do(req *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	op := req.URL.Path[strings.LastIndex(req.URL.Path, "/")+1:]
	a.mu.Lock()
	if a.requests == nil {
		a.requests = map[string][][]byte{}
	}
	a.requests[op] = append(a.requests[op], body)
	a.mu.Unlock()
	resp := a.answer(op, body)
	resp.Request = req
	return resp, nil
}

func (a *batchAPI) calls(op string) [][]byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.requests[op]
}

// client is a real Batch client over api. Its own retries are off so
// the calls counted are the adapter's; deployed, the SDK's standard
// retries (3 attempts) come under the adapter's backoff.
func client(api *batchAPI) *batch.Client {
	return batch.New(batch.Options{
		Region: "us-east-1", BaseEndpoint: aws.String("https://batch.us-east-1.amazonaws.com"),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""), HTTPClient: api,
		RetryMaxAttempts: 1,
	})
}

func httpCompute(t *testing.T, api *batchAPI, edit func(*awsbatch.Config)) *awsbatch.Compute {
	t.Helper()
	cfg := awsbatch.Config{
		Client: client(api), Store: newStore(t), Bucket: "data",
		Queues:      map[string]awsbatch.Queue{"emerald": {Queue: "emerald-queue", CoresPerNode: 4, MaxNodes: 4, MemoryMiBPerNode: 15000}},
		Definitions: map[string]awsbatch.Definition{awsbatch.DefaultDefinition: {Single: "agent-single:3", Multi: "agent-mnp:2"}},
		Submit:      awsbatch.Backoff{Attempts: 5, Base: time.Millisecond, Max: 4 * time.Millisecond},
	}
	if edit != nil {
		edit(&cfg)
	}
	c, err := awsbatch.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSubmitJobBacksOffWhileThrottled(t *testing.T) {
	n := 0
	api := &batchAPI{answer: func(op string, _ []byte) *http.Response {
		if n++; n <= 3 {
			return throttled()
		}
		return submitted("b-1", "job-jthr-run1")
	}}
	c := httpCompute(t, api, nil)
	if err := c.StartRun(t.Context(), runOf("jthr", "1")); err != nil {
		t.Fatalf("StartRun through three throttled answers: %v", err)
	}
	if got := len(api.calls("submitjob")); got != 4 {
		t.Fatalf("%d SubmitJob calls, want 4", got)
	}
	if id, _ := c.BatchJobID(t.Context(), "jthr", "1"); id != "b-1" {
		t.Fatalf("recorded Batch job %q", id)
	}
}

func TestSubmitJobGivesUpAndFreesTheRun(t *testing.T) {
	throttle := true
	api := &batchAPI{answer: func(op string, _ []byte) *http.Response {
		if throttle {
			return throttled()
		}
		return submitted("b-2", "job-jgive-run1")
	}}
	c := httpCompute(t, api, func(cfg *awsbatch.Config) { cfg.Submit.Attempts = 3 })
	err := c.StartRun(t.Context(), runOf("jgive", "1"))
	if !errs.Is(err, errs.Unavailable) || !awsbatch.Throttled(err) {
		t.Fatalf("StartRun throttled throughout: %v", err)
	}
	if got := len(api.calls("submitjob")); got != 3 {
		t.Fatalf("%d SubmitJob calls, want 3", got)
	}
	// The failed call left no claim: the state machine's retry submits at
	// once rather than waiting for the claim to time out.
	throttle = false
	if err := c.StartRun(t.Context(), runOf("jgive", "1")); err != nil {
		t.Fatal(err)
	}
	if id, _ := c.BatchJobID(t.Context(), "jgive", "1"); id != "b-2" {
		t.Fatalf("recorded Batch job %q", id)
	}
}

func TestSubmitJobRefusalIsNotRetried(t *testing.T) {
	api := &batchAPI{answer: func(string, []byte) *http.Response {
		return clientException("Job queue emerald-queue does not exist")
	}}
	c := httpCompute(t, api, nil)
	err := c.StartRun(t.Context(), runOf("jref", "1"))
	if !errs.Is(err, errs.Unavailable) || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("StartRun refused: %v", err)
	}
	if got := len(api.calls("submitjob")); got != 1 {
		t.Fatalf("%d SubmitJob calls, want 1", got)
	}
}

func describedAs(id, status string) *http.Response {
	return response(200, nil, fmt.Sprintf(`{"jobs":[{"jobArn":"arn:aws:batch:us-east-1:123456789012:job/%s","jobName":"job-jrun-run1",`+
		`"jobId":%q,"jobQueue":"emerald-queue","status":%q,"createdAt":1700000000000,"startedAt":1700000060000,`+
		`"jobDefinition":"agent-single:3","parameters":{},"attempts":[]}]}`, id, id, status))
}

// A second StartRun while the run's Batch job runs submits nothing, and
// the run is alive.
func TestStartRunLeavesARunningBatchJobAlone(t *testing.T) {
	api := &batchAPI{answer: func(op string, _ []byte) *http.Response {
		if op == "describejobs" {
			return describedAs("b-3", "RUNNING")
		}
		return submitted("b-3", "job-jrun-run1")
	}}
	c := httpCompute(t, api, nil)
	for range 2 {
		if err := c.StartRun(t.Context(), runOf("jrun", "1")); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(api.calls("submitjob")); got != 1 {
		t.Fatalf("%d SubmitJob calls, want 1", got)
	}
	if alive, err := c.Alive(t.Context(), "jrun", "1"); !alive || err != nil {
		t.Fatalf("running Batch job: alive %v, %v", alive, err)
	}
}

// A Stop that arrives while SubmitJob is in flight finds no Batch job to
// end; StartRun ends the job it submitted.
func TestStopDuringSubmitIsApplied(t *testing.T) {
	var c *awsbatch.Compute
	api := &batchAPI{answer: func(op string, _ []byte) *http.Response {
		switch op {
		case "submitjob":
			if err := c.Stop(t.Context(), "jrace", "", compute.Graceful); err != nil {
				t.Error(err)
			}
			return submitted("b-4", "job-jrace-run1")
		case "terminatejob":
			return response(200, nil, `{}`)
		}
		return clientException("unexpected " + op)
	}}
	c = httpCompute(t, api, nil)
	if err := c.StartRun(t.Context(), runOf("jrace", "1")); err != nil {
		t.Fatal(err)
	}
	calls := api.calls("terminatejob")
	if len(calls) != 1 {
		t.Fatalf("%d TerminateJob calls, want 1", len(calls))
	}
	var in struct{ JobID, Reason string }
	if err := json.Unmarshal(calls[0], &in); err != nil || in.JobID != "b-4" || in.Reason != "rescale:stop:stop" {
		t.Fatalf("TerminateJob %s (%v)", calls[0], err)
	}
	if err := c.StartRun(t.Context(), runOf("jrace", "2")); !errors.Is(err, compute.ErrStopped) {
		t.Fatalf("next run: %v", err)
	}
}

// What SubmitJob is asked, in the API's own JSON: an MPI run over more
// cores than a node has is a multi-node parallel job on whole nodes, with
// the spec on every node; other runs are single-node jobs with their share
// of a node.
func TestSubmitJobRequests(t *testing.T) {
	type overrides struct {
		Environment          []struct{ Name, Value string }
		ResourceRequirements []struct{ Type, Value string }
	}
	type request struct {
		JobName, JobQueue, JobDefinition string
		Parameters                       map[string]string
		Tags                             map[string]string
		ContainerOverrides               *overrides
		NodeOverrides                    *struct {
			NumNodes              int
			NodePropertyOverrides []struct {
				TargetNodes        string
				ContainerOverrides overrides
			}
		}
		Timeout *struct{ AttemptDurationSeconds int }
	}
	specOf := func(t *testing.T, o overrides) agentspec.Spec {
		t.Helper()
		for _, kv := range o.Environment {
			if kv.Name == agentspec.EnvVar {
				s, err := agentspec.Decode(kv.Value)
				if err != nil {
					t.Fatal(err)
				}
				return s
			}
		}
		t.Fatalf("no %s in %+v", agentspec.EnvVar, o.Environment)
		return agentspec.Spec{}
	}
	resources := func(o overrides) string {
		var b bytes.Buffer
		for _, r := range o.ResourceRequirements {
			fmt.Fprintf(&b, "%s=%s ", r.Type, r.Value)
		}
		return strings.TrimSpace(b.String())
	}
	for name, tc := range map[string]struct {
		mpi   bool
		cores int
		check func(t *testing.T, r request)
	}{
		"mpi over 3 nodes": {true, 10, func(t *testing.T, r request) {
			if r.JobDefinition != "agent-mnp:2" || r.ContainerOverrides != nil || r.NodeOverrides == nil ||
				r.NodeOverrides.NumNodes != 3 || len(r.NodeOverrides.NodePropertyOverrides) != 1 {
				t.Fatalf("request %+v", r)
			}
			o := r.NodeOverrides.NodePropertyOverrides[0]
			if o.TargetNodes != "0:" || resources(o.ContainerOverrides) != "VCPU=4 MEMORY=15000" {
				t.Fatalf("node overrides %+v", o)
			}
			if s := specOf(t, o.ContainerOverrides); s.Nodes != 3 || s.CoresPerNode != 4 || s.Cores != 10 || !s.UseMPI {
				t.Fatalf("spec %+v", s)
			}
		}},
		"mpi on one node": {true, 4, func(t *testing.T, r request) {
			if r.JobDefinition != "agent-single:3" || r.NodeOverrides != nil || resources(*r.ContainerOverrides) != "VCPU=4 MEMORY=15000" {
				t.Fatalf("request %+v", r)
			}
		}},
		"part of a node": {false, 2, func(t *testing.T, r request) {
			if r.JobDefinition != "agent-single:3" || resources(*r.ContainerOverrides) != "VCPU=2 MEMORY=7500" {
				t.Fatalf("request %+v", r)
			}
			if r.JobName != "job-jreq-run1" || r.JobQueue != "emerald-queue" || r.Parameters[awsbatch.ParamOwnerID] != "uowner" ||
				r.Tags["rescale:run"] != "1" || r.Timeout == nil || r.Timeout.AttemptDurationSeconds != 8100 {
				t.Fatalf("request %+v", r)
			}
			s := specOf(t, *r.ContainerOverrides)
			if s.Nodes != 1 || s.CoresPerNode != 2 || s.Env["RESCALE_API_KEY"] != "secret" {
				t.Fatalf("spec %+v", s)
			}
			// A rendered template keeps its execute bits on the agent's side.
			want := []agentspec.Input{{Name: "input.txt", Key: "user/user_uowner/input.txt-0123"}, {Name: "run.sh", Key: "user/user_uowner/run.sh-4567", Executable: true}}
			if !slices.Equal(s.Inputs, want) {
				t.Fatalf("spec inputs %+v, want %+v", s.Inputs, want)
			}
		}},
		"not mpi, more than a node": {false, 10, func(t *testing.T, r request) {
			if r.JobDefinition != "agent-single:3" || resources(*r.ContainerOverrides) != "VCPU=4 MEMORY=15000" {
				t.Fatalf("request %+v", r)
			}
		}},
	} {
		t.Run(name, func(t *testing.T) {
			api := &batchAPI{answer: func(string, []byte) *http.Response { return submitted("b-5", "job-jreq-run1") }}
			c := httpCompute(t, api, nil)
			run := runOf("jreq", "1")
			run.UseMPI, run.Req.Cores = tc.mpi, tc.cores
			run.Inputs = append(run.Inputs, compute.File{Name: "run.sh", Key: "user/user_uowner/run.sh-4567", Executable: true})
			if err := c.StartRun(t.Context(), run); err != nil {
				t.Fatal(err)
			}
			var r request
			if err := json.Unmarshal(api.calls("submitjob")[0], &r); err != nil {
				t.Fatal(err)
			}
			tc.check(t, r)
		})
	}
	t.Run("no multi-node definition", func(t *testing.T) {
		api := &batchAPI{answer: func(string, []byte) *http.Response { return submitted("b-6", "x") }}
		c := httpCompute(t, api, func(cfg *awsbatch.Config) {
			cfg.Definitions = map[string]awsbatch.Definition{awsbatch.DefaultDefinition: {Single: "agent-single:3"}}
		})
		run := runOf("jnomnp", "1")
		run.UseMPI, run.Req.Cores = true, 8
		if err := c.StartRun(t.Context(), run); !errs.Is(err, errs.Invalid) {
			t.Fatalf("MPI over nodes without a definition: %v", err)
		}
	})
}

// Racing StartRuns of one run (a step retried while its first invocation
// still runs) submit one Batch job: the first claims the run.
func TestRacingStartRunsSubmitOnce(t *testing.T) {
	release := make(chan struct{})
	api := &batchAPI{answer: func(op string, _ []byte) *http.Response {
		if op == "submitjob" {
			<-release
		}
		return submitted("b-7", "job-jrace2-run1")
	}}
	c := httpCompute(t, api, nil)
	errc := make(chan error, 4)
	for range 4 {
		go func() { errc <- c.StartRun(t.Context(), runOf("jrace2", "1")) }()
	}
	// Three of them find the claim and return; the fourth is submitting.
	for range 3 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	close(release)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if got := len(api.calls("submitjob")); got != 1 {
		t.Fatalf("%d SubmitJob calls, want 1", got)
	}
}
