package batchstate_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/batch"

	"github.com/openrescale/platform/events/batchstate"
	"github.com/openrescale/platform/events/runstate"
	"github.com/openrescale/platform/shared/accounts"
	"github.com/openrescale/platform/shared/asl"
	"github.com/openrescale/platform/shared/awslocal/motoserver"
	"github.com/openrescale/platform/shared/blob/fileblob"
	"github.com/openrescale/platform/shared/catalog"
	"github.com/openrescale/platform/shared/compute"
	"github.com/openrescale/platform/shared/compute/awsbatch"
	"github.com/openrescale/platform/shared/files"
	"github.com/openrescale/platform/shared/folders"
	"github.com/openrescale/platform/shared/jobs"
	"github.com/openrescale/platform/shared/lifecycle"
	"github.com/openrescale/platform/shared/store/boltstore"
	"github.com/openrescale/platform/statemachines"
)

func TestMain(m *testing.M) { motoserver.Main(m) }

// platform is the lifecycle over the Batch adapter on moto, driven by
// job.asl.json on the ASL runner: moto's Step Functions cannot run it (no
// task tokens, and every execution after the first fails, moto#10077), so
// the definition runs as rescale-local runs it while the run itself is a
// Batch job, and its end comes back as a Batch Job State Change event
// through this package, events/runstate and lifecycle.RecordEvent.
type platform struct {
	svc    *lifecycle.Service
	runner *asl.Runner
	batch  *awsbatch.Compute
	client *batch.Client
	events batchstate.Handler
	jobs   *jobs.Service
	owner  accounts.User
}

func newPlatform(t *testing.T) platform {
	t.Helper()
	srv := motoserver.Shared(t)
	ctx := t.Context()
	dir := t.TempDir()
	st, err := boltstore.Open(filepath.Join(dir, "store.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	bucket, err := fileblob.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bucket.Close() })

	client := srv.Batch()
	queue, err := srv.CreateBatchQueue(ctx, "standard-plus")
	if err != nil {
		t.Fatal(err)
	}
	def, err := motoserver.RegisterJobDefinition(ctx, client, "agent-single")
	if err != nil {
		t.Fatal(err)
	}
	bc, err := awsbatch.New(awsbatch.Config{Client: client, Store: st, Bucket: "data",
		Queues:      map[string]awsbatch.Queue{"standard-plus": {Queue: queue, CoresPerNode: 4}},
		Definitions: map[string]awsbatch.Definition{awsbatch.DefaultDefinition: {Single: def}}})
	if err != nil {
		t.Fatal(err)
	}

	cat, err := catalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	acc := accounts.New(st, time.Now)
	owner, err := acc.EnsureUser(ctx, "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	fr := files.NewRepo(st)
	fsvc := &files.Service{Repo: fr, Now: time.Now}
	js := jobs.New(st, cat, fr, fsvc, time.Now)
	svc := lifecycle.New(lifecycle.Config{Store: st, Jobs: js, Files: fr, Folders: folders.New(st, fsvc, time.Now),
		Bucket: bucket, Keys: acc, Catalog: cat, Compute: bc, APIURL: "https://api.example.com/api/v2/"})

	m, err := asl.Parse(statemachines.Job, lifecycle.Placeholders())
	if err != nil {
		t.Fatal(err)
	}
	tasks := map[string]asl.TaskFunc{}
	for name, fn := range svc.Steps() {
		tasks[name] = func(ctx context.Context, in json.RawMessage, token string) (json.RawMessage, error) {
			out, err := fn(ctx, in, token)
			var se *lifecycle.StepError
			if errors.As(err, &se) {
				return nil, &asl.Error{Name: se.Name, Cause: se.Cause}
			}
			return out, err
		}
	}
	runner, err := asl.New(asl.Config{Machine: m, Tasks: tasks, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { runner.Close() })
	svc.SetOrchestrator(runnerOrchestrator{runner})
	return platform{svc: svc, runner: runner, batch: bc, client: client, jobs: js, owner: owner,
		events: batchstate.Handler{Runs: bc, Record: runstate.Handler{Lifecycle: svc}.Handle, Bucket: bucket}}
}

type runnerOrchestrator struct{ r *asl.Runner }

func (o runnerOrchestrator) Start(ctx context.Context, name string, in json.RawMessage) (bool, error) {
	return o.r.Start(ctx, name, in)
}
func (o runnerOrchestrator) SendTaskSuccess(ctx context.Context, token string, out json.RawMessage) error {
	return o.r.SendTaskSuccess(ctx, token, out)
}
func (o runnerOrchestrator) SendTaskFailure(ctx context.Context, token, name, cause string) error {
	return o.r.SendTaskFailure(ctx, token, name, cause)
}
func (o runnerOrchestrator) Status(ctx context.Context, name string) (string, error) {
	ex, err := o.r.Describe(ctx, name)
	return ex.Status, err
}

func (p platform) submit(t *testing.T) jobs.Job {
	t.Helper()
	spec, err := jobs.ParseSpec([]byte(`{"name": "through batch", "jobanalyses": [{"analysis": {"code": "user_included"},
		"command": "echo hello", "hardware": {"coreType": "standard-plus", "coresPerSlot": 2}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	j, err := p.jobs.Create(t.Context(), jobs.Owner{UserID: p.owner.ID, Email: p.owner.Email}, spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.svc.Submit(t.Context(), p.owner.ID, j.ID); err != nil {
		t.Fatal(err)
	}
	return j
}

// batchJob waits for the run's Batch job and returns its detail as
// DescribeJobs gives it.
func (p platform) batchJob(t *testing.T, jobID string) awsbatch.Detail {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		id, err := p.batch.BatchJobID(t.Context(), jobID, "1")
		if err == nil && id != "" {
			out, err := p.client.DescribeJobs(t.Context(), &batch.DescribeJobsInput{Jobs: []string{id}})
			if err != nil || len(out.Jobs) != 1 {
				t.Fatalf("describe %s: %v", id, err)
			}
			return awsbatch.DetailOf(out.Jobs[0])
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s never reached Batch", jobID)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// deliver sends d to the handler as EventBridge would: moto emits no
// events.
func (p platform) deliver(t *testing.T, d awsbatch.Detail) {
	t.Helper()
	detail, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	e := events.CloudWatchEvent{Version: "0", ID: "e-" + d.JobID, DetailType: batchstate.DetailType, Source: batchstate.Source,
		AccountID: motoserver.Account, Time: time.Now().UTC(), Region: motoserver.Region,
		Resources: []string{"arn:aws:batch:us-east-1:123456789012:job/" + d.JobID}, Detail: detail}
	if err := p.events.Handle(t.Context(), e); err != nil {
		t.Fatal(err)
	}
}

func (p platform) completed(t *testing.T, jobID string) lifecycle.Record {
	t.Helper()
	ex, err := p.runner.Wait(t.Context(), jobID)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := p.svc.History(t.Context(), p.owner.ID, jobID)
	if err != nil {
		t.Fatal(err)
	}
	last := rec.Statuses[len(rec.Statuses)-1]
	if last.Status != jobs.StatusDisplay(jobs.StatusCompleted) {
		t.Fatalf("execution %s, job %s", ex.Status, last.Status)
	}
	return rec
}

func TestJobRunsAsABatchJob(t *testing.T) {
	p := newPlatform(t)
	j := p.submit(t)
	d := p.batchJob(t, j.ID)
	if d.JobName != "job-"+j.ID+"-run1" || d.Parameters[awsbatch.ParamOwnerID] != p.owner.ID {
		t.Fatalf("Batch job %+v", d)
	}
	p.deliver(t, d) // moto's job is SUCCEEDED
	rec := p.completed(t, j.ID)
	if rec.Failed {
		t.Fatalf("job failed: %s", rec.Reason)
	}
	if r := p.run(t, j.ID); r.State != lifecycle.RunSucceeded || r.ExitCode == nil || *r.ExitCode != 0 {
		t.Fatalf("run %+v", r)
	}
}

func (p platform) run(t *testing.T, jobID string) lifecycle.Run {
	t.Helper()
	r, err := p.svc.Run(t.Context(), p.owner.ID, jobID, "1")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestStoppedJobIsTerminatedInBatch(t *testing.T) {
	p := newPlatform(t)
	j := p.submit(t)
	p.batchJob(t, j.ID) // the run is in Batch
	if err := p.svc.Stop(t.Context(), p.owner.ID, j.ID, compute.Force); err != nil {
		t.Fatal(err)
	}
	// TerminateJob reached Batch: moto records its reason on the job.
	after := p.batchJob(t, j.ID)
	if after.StatusReason != "rescale:stop:force_stop" {
		t.Fatalf("Batch job's reason %q after the stop", after.StatusReason)
	}
	// Real Batch then reports the job FAILED with that reason; moto keeps
	// its finished job SUCCEEDED, so the test sets the status.
	after.Status = "FAILED"
	p.deliver(t, after)
	rec := p.completed(t, j.ID)
	if rec.Failed || !strings.Contains(strings.ToLower(rec.Reason), "stop") {
		t.Fatalf("stopped job: failed %v, reason %q", rec.Failed, rec.Reason)
	}
	if r := p.run(t, j.ID); r.State != lifecycle.RunStopped {
		t.Fatalf("run %+v", r)
	}
	t.Logf("stopped job's reason: %s", rec.Reason)
}

// A run whose instance went away is retried as a new Batch job; the lost
// attempt's event, delivered again (EventBridge delivers at least once),
// does not touch the new attempt.
func TestHostTerminatedRunIsRetried(t *testing.T) {
	p := newPlatform(t)
	j := p.submit(t)
	first := p.batchJob(t, j.ID)
	lost := first
	lost.Status, lost.StatusReason = "FAILED", "Host EC2 (instance i-0a1b2c3d4e5f67890) terminated."
	lost.Attempts = []awsbatch.Attempt{{Container: &awsbatch.Container{}, StatusReason: lost.StatusReason}}
	p.deliver(t, lost)

	deadline := time.Now().Add(30 * time.Second)
	var second awsbatch.Detail
	for second = p.batchJob(t, j.ID); second.JobID == first.JobID; second = p.batchJob(t, j.ID) {
		if time.Now().After(deadline) {
			t.Fatal("the run was not retried")
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.deliver(t, lost) // again: ignored
	if r := p.run(t, j.ID); r.State != lifecycle.RunRunning || r.Token == "" {
		t.Fatalf("the lost attempt's repeated event changed the retried run: %+v", r)
	}
	p.deliver(t, second)
	rec := p.completed(t, j.ID)
	if r := p.run(t, j.ID); rec.Failed || r.State != lifecycle.RunSucceeded || r.Attempts != 2 {
		t.Fatalf("job failed %v (%s), run %+v", rec.Failed, rec.Reason, r)
	}
}
