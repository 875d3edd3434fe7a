package awsbatch_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"

	"github.com/openrescale/platform/shared/awslocal/motoserver"
	"github.com/openrescale/platform/shared/blob"
	"github.com/openrescale/platform/shared/blob/fileblob"
	"github.com/openrescale/platform/shared/compute"
	"github.com/openrescale/platform/shared/compute/agentspec"
	"github.com/openrescale/platform/shared/compute/awsbatch"
	"github.com/openrescale/platform/shared/compute/computetest"
	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/store"
	"github.com/openrescale/platform/shared/store/boltstore"
)

func TestMain(m *testing.M) { motoserver.Main(m) }

func newStore(t *testing.T) store.Store {
	t.Helper()
	s, err := boltstore.Open(filepath.Join(t.TempDir(), "store.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// deployment is moto with Batch set up as infra sets it up: a queue per
// coretype and the agent's job definitions.
type deployment struct {
	srv    *motoserver.Server
	client *batch.Client
	queues map[string]awsbatch.Queue
	defs   map[string]awsbatch.Definition
}

func deploy(t *testing.T, cores int) deployment {
	t.Helper()
	srv := motoserver.Shared(t)
	d := deployment{srv: srv, client: srv.Batch(), queues: map[string]awsbatch.Queue{}}
	for _, ct := range []string{"emerald", ""} {
		name := ct
		if name == "" {
			name = "default" // computetest's jobs name no coretype
		}
		q, err := srv.CreateBatchQueue(t.Context(), name)
		if err != nil {
			t.Fatal(err)
		}
		d.queues[ct] = awsbatch.Queue{Queue: q, CoresPerNode: cores, MaxNodes: 1, MemoryMiBPerNode: 4096}
	}
	single, err := motoserver.RegisterJobDefinition(t.Context(), d.client, "agent-single")
	if err != nil {
		t.Fatal(err)
	}
	d.defs = map[string]awsbatch.Definition{awsbatch.DefaultDefinition: {Single: single}}
	return d
}

func (d deployment) compute(t *testing.T, st store.Store, edit func(*awsbatch.Config)) *awsbatch.Compute {
	t.Helper()
	cfg := awsbatch.Config{Client: d.client, Store: st, Queues: d.queues, Definitions: d.defs, Bucket: "data"}
	if edit != nil {
		edit(&cfg)
	}
	c, err := awsbatch.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The contract suite, where moto can express it. moto runs no containers
// (without Docker a submitted job is SUCCEEDED at once, with no exit code
// and no agent behind it) and emits no state change events, so the cases
// that watch a run's events and outputs cannot run here; the event
// translation is tested on recorded events in events/batchstate and in
// detail_test.go, stops in TestStop* below. First come, first served
// reservations do not apply: Batch queues runs itself, so Reserve admits
// at once.
func TestContract(t *testing.T) {
	notHere := map[string]string{
		"RunReportsExitAndSavesOutputs":       "moto runs no agent and emits no Batch events",
		"StopEndsRunsAndRefusesNewWork":       "moto emits no Batch events and finishes every job at once (see TestStop*)",
		"ReservationsAreFirstComeFirstServed": "Batch's job queue orders runs; Reserve never waits",
	}
	computetest.Run(t, func(t *testing.T, cores int, sink compute.Sink) (compute.Compute, blob.Bucket) {
		for name, why := range notHere {
			if strings.HasSuffix(t.Name(), "/"+name) {
				t.Skipf("not on moto: %s", why)
			}
		}
		d := deploy(t, cores)
		b, err := fileblob.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return d.compute(t, newStore(t), nil), b
	})
}

func runOf(job, run string) compute.Run {
	return compute.Run{
		JobID: job, OwnerID: "uowner", RunID: run,
		Req:     compute.Requirements{Analysis: "user_included", Version: "0", CoreType: "emerald", Cores: 2},
		Command: "echo hello > out.txt", PreCommand: "true",
		Inputs:       []compute.File{{Name: "input.txt", Key: "user/user_uowner/input.txt-0123"}},
		Env:          map[string]string{"GREETING": "hello", "RESCALE_API_KEY": "secret"},
		Walltime:     2 * time.Hour,
		OutputPrefix: "user/user_uowner/output/job_" + job + "/run" + run + "/",
		Include:      []string{"*.txt"},
	}
}

func describe(t *testing.T, c *batch.Client, id string) types.JobDetail {
	t.Helper()
	out, err := c.DescribeJobs(t.Context(), &batch.DescribeJobsInput{Jobs: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Jobs) != 1 {
		t.Fatalf("DescribeJobs %s: %d jobs", id, len(out.Jobs))
	}
	return out.Jobs[0]
}

func TestStartRunSubmitsTheRun(t *testing.T) {
	d := deploy(t, 4)
	c := d.compute(t, newStore(t), nil)
	ctx := t.Context()
	if err := c.StartRun(ctx, runOf("jsub", "1")); err != nil {
		t.Fatal(err)
	}
	id, err := c.BatchJobID(ctx, "jsub", "1")
	if err != nil || id == "" {
		t.Fatalf("Batch job of the run: %q, %v", id, err)
	}
	j := describe(t, d.client, id)
	if got := aws.ToString(j.JobName); got != "job-jsub-run1" {
		t.Errorf("job name %s", got)
	}
	if got := aws.ToString(j.JobQueue); got != d.queues["emerald"].Queue {
		t.Errorf("queue %s, want %s", got, d.queues["emerald"].Queue)
	}
	if got := aws.ToString(j.JobDefinition); !strings.Contains(got, "agent-single") {
		t.Errorf("definition %s", got)
	}
	want := map[string]string{awsbatch.ParamJobID: "jsub", awsbatch.ParamRunID: "1", awsbatch.ParamOwnerID: "uowner",
		awsbatch.ParamOutputPrefix: "user/user_uowner/output/job_jsub/run1/"}
	for k, v := range want {
		if j.Parameters[k] != v {
			t.Errorf("parameter %s = %q, want %q", k, j.Parameters[k], v)
		}
	}
	if j.Tags["rescale:job"] != "jsub" || j.Tags["rescale:owner"] != "uowner" {
		t.Errorf("tags %v", j.Tags)
	}
	if j.Timeout == nil || aws.ToInt32(j.Timeout.AttemptDurationSeconds) != int32((2*time.Hour+15*time.Minute)/time.Second) {
		t.Errorf("timeout %+v", j.Timeout)
	}
	var encoded string
	for _, kv := range j.Container.Environment {
		if aws.ToString(kv.Name) == agentspec.EnvVar {
			encoded = aws.ToString(kv.Value)
		}
	}
	spec, err := agentspec.Decode(encoded)
	if err != nil {
		t.Fatalf("spec in the container's environment: %v", err)
	}
	if spec.JobID != "jsub" || spec.RunID != "1" || spec.OwnerID != "uowner" || spec.Bucket != "data" ||
		spec.Command != "echo hello > out.txt" || spec.PreCommand != "true" || spec.Nodes != 1 || spec.CoresPerNode != 2 ||
		spec.Cores != 2 || spec.WalltimeSeconds != 7200 || len(spec.Inputs) != 1 || spec.Inputs[0].Key != "user/user_uowner/input.txt-0123" ||
		spec.Env["GREETING"] != "hello" || spec.OutputPrefix != want[awsbatch.ParamOutputPrefix] || spec.Include[0] != "*.txt" {
		t.Errorf("spec %+v", spec)
	}
}

func TestCheck(t *testing.T) {
	d := deploy(t, 4)
	d.queues["emerald"] = awsbatch.Queue{Queue: d.queues["emerald"].Queue, CoresPerNode: 4, MaxNodes: 2, StorageBytesPerNode: 1 << 30}
	d.defs["openfoam/v1912-openmpi"] = awsbatch.Definition{Single: d.defs["*"].Single}
	c := d.compute(t, newStore(t), nil)
	req := func(edit func(*compute.Requirements)) compute.Requirements {
		r := compute.Requirements{Analysis: "openfoam", Version: "v1912-openmpi", VersionName: "v1912", CoreType: "emerald", Cores: 8}
		edit(&r)
		return r
	}
	for name, tc := range map[string]struct {
		req  compute.Requirements
		want string
	}{
		"fits":             {req(func(*compute.Requirements) {}), ""},
		"coretype":         {req(func(r *compute.Requirements) { r.CoreType = "onyx" }), "coretype onyx is not enabled in this deployment"},
		"software":         {req(func(r *compute.Requirements) { r.Version = "v2306" }), "openfoam v1912 is not available in this deployment"},
		"cores":            {req(func(r *compute.Requirements) { r.Cores = 9 }), "offers at most 8 (2 nodes of 4 cores)"},
		"storage":          {req(func(r *compute.Requirements) { r.StorageBytes = 2 << 30 }), "bytes of storage"},
		"user software":    {compute.Requirements{Analysis: "user_included", Version: "0", CoreType: "emerald", Cores: 1}, ""},
		"no default image": {compute.Requirements{Analysis: "abaqus", Version: "2022", CoreType: "emerald", Cores: 1}, "abaqus 2022 is not available"},
	} {
		t.Run(name, func(t *testing.T) {
			err := c.Check(t.Context(), tc.req)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Check: %v", err)
			case tc.want != "" && (!errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Check: %v, want Invalid %q", err, tc.want)
			}
		})
	}
}

// moto finishes every job at once, so a second StartRun finds the run's
// Batch job ended: that is a retried run, and it gets a new Batch job.
// Events of the first attempt are no longer the run's. (A second StartRun
// while the Batch job runs is tested at the HTTP layer: moto has no
// running jobs.)
func TestRetriedRunIsANewBatchJob(t *testing.T) {
	d := deploy(t, 4)
	c := d.compute(t, newStore(t), nil)
	ctx := t.Context()
	r := runOf("jretry", "1")
	if err := c.StartRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	first, _ := c.BatchJobID(ctx, "jretry", "1")
	if err := c.StartRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	second, _ := c.BatchJobID(ctx, "jretry", "1")
	if first == second || second == "" {
		t.Fatalf("retried run's Batch job: %s then %s", first, second)
	}
	if _, ok, err := c.Event(ctx, awsbatch.DetailOf(describe(t, d.client, first))); ok || err != nil {
		t.Fatalf("event of the superseded attempt was kept (err %v)", err)
	}
	ev, ok, err := c.Event(ctx, awsbatch.DetailOf(describe(t, d.client, second)))
	if !ok || err != nil {
		t.Fatalf("event of the current attempt: ok %v, err %v", ok, err)
	}
	if ev.JobID != "jretry" || ev.RunID != "1" || ev.OwnerID != "uowner" || ev.State != compute.Exited || ev.ExitCode != 0 {
		t.Fatalf("event %+v", ev)
	}
}

func TestAlive(t *testing.T) {
	d := deploy(t, 4)
	now := time.Now()
	c := d.compute(t, newStore(t), func(cfg *awsbatch.Config) { cfg.Now = func() time.Time { return now } })
	ctx := t.Context()
	if alive, err := c.Alive(ctx, "jalive", "1"); alive || err != nil {
		t.Fatalf("a run never started: alive %v, %v", alive, err)
	}
	if err := c.StartRun(ctx, runOf("jalive", "1")); err != nil {
		t.Fatal(err)
	}
	// SUCCEEDED a moment ago: its event may still be on its way.
	if alive, err := c.Alive(ctx, "jalive", "1"); !alive || err != nil {
		t.Fatalf("a run that just ended: alive %v, %v", alive, err)
	}
	now = now.Add(11 * time.Minute)
	if alive, err := c.Alive(ctx, "jalive", "1"); alive || err != nil {
		t.Fatalf("a run that ended 11 minutes ago: alive %v, %v", alive, err)
	}
}

func reasonOf(t *testing.T, c *batch.Client, id string) string {
	t.Helper()
	return aws.ToString(describe(t, c, id).StatusReason)
}

// Stop calls TerminateJob with the mode in its reason on every run's Batch
// job. moto records the reason (DescribeJobs' statusReason) but leaves its
// already finished jobs SUCCEEDED; real Batch moves a terminated running
// job to FAILED with that reason, which the event translation reads.
func TestStopTerminatesEveryRunAndRefusesNewOnes(t *testing.T) {
	d := deploy(t, 4)
	c := d.compute(t, newStore(t), nil)
	ctx := t.Context()
	for _, run := range []string{"1", "2"} {
		if err := c.StartRun(ctx, runOf("jstop", run)); err != nil {
			t.Fatal(err)
		}
	}
	other := runOf("jother", "1")
	if err := c.StartRun(ctx, other); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(ctx, "jstop", "", compute.Force); err != nil {
		t.Fatal(err)
	}
	for _, run := range []string{"1", "2"} {
		id, _ := c.BatchJobID(ctx, "jstop", run)
		if got := reasonOf(t, d.client, id); got != "rescale:stop:force_stop" {
			t.Errorf("run %s: TerminateJob reason %q", run, got)
		}
	}
	otherID, _ := c.BatchJobID(ctx, "jother", "1")
	if got := reasonOf(t, d.client, otherID); got != "" {
		t.Errorf("another job's run was terminated: %q", got)
	}
	if err := c.StartRun(ctx, runOf("jstop", "3")); !errors.Is(err, compute.ErrStopped) {
		t.Fatalf("StartRun of a stopped job: %v", err)
	}
	if err := c.Reserve(ctx, "jstop", 1, func() { t.Error("Reserve waited") }); !errors.Is(err, compute.ErrStopped) {
		t.Fatalf("Reserve of a stopped job: %v", err)
	}
	if err := c.Reserve(ctx, "jother", 1, func() { t.Error("Reserve waited") }); err != nil {
		t.Fatalf("Reserve: %v", err)
	}

	// The event of a run terminated by a force_stop reports the strongest
	// stop asked since: a shutdown that came after.
	if err := c.Stop(ctx, "jstop", "", compute.Discard); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(ctx, "jstop", "", compute.Graceful); err != nil { // weaker: changes nothing
		t.Fatal(err)
	}
	id, _ := c.BatchJobID(ctx, "jstop", "1")
	det := awsbatch.DetailOf(describe(t, d.client, id))
	det.Status, det.StatusReason = "FAILED", awsbatch.StopReason(compute.Force)
	ev, ok, err := c.Event(ctx, det)
	if !ok || err != nil || ev.Stopped != compute.Discard {
		t.Fatalf("event of a run stopped then shut down: %+v ok %v err %v", ev, ok, err)
	}
	if err := c.Stop(ctx, "jstop", "", "pause"); !errs.Is(err, errs.Invalid) {
		t.Fatalf("unknown mode: %v", err)
	}
}

func TestStopOneRun(t *testing.T) {
	d := deploy(t, 4)
	c := d.compute(t, newStore(t), nil)
	ctx := t.Context()
	for _, run := range []string{"1", "2"} {
		if err := c.StartRun(ctx, runOf("jone", run)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Stop(ctx, "jone", "2", compute.Graceful); err != nil {
		t.Fatal(err)
	}
	one, _ := c.BatchJobID(ctx, "jone", "1")
	two, _ := c.BatchJobID(ctx, "jone", "2")
	if reasonOf(t, d.client, one) != "" || reasonOf(t, d.client, two) != "rescale:stop:stop" {
		t.Fatalf("reasons: run 1 %q, run 2 %q", reasonOf(t, d.client, one), reasonOf(t, d.client, two))
	}
	// Stopping one run does not stop the job.
	if err := c.StartRun(ctx, runOf("jone", "3")); err != nil {
		t.Fatalf("StartRun after stopping another run: %v", err)
	}
	if err := c.Stop(ctx, "jone", "9", compute.Graceful); err != nil {
		t.Fatalf("stopping a run never started: %v", err)
	}
}

// A run too large for one SubmitJob request is refused with a reason.
func TestStartRunRefusesAnOversizedSpec(t *testing.T) {
	d := deploy(t, 4)
	c := d.compute(t, newStore(t), nil)
	r := runOf("jbig", "1")
	for i := range 500 {
		r.Inputs = append(r.Inputs, compute.File{Name: strings.Repeat("f", 30) + string(rune('a'+i%26)), Key: strings.Repeat("k", 60)})
	}
	err := c.StartRun(t.Context(), r)
	if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "AWS Batch accepts at most") {
		t.Fatalf("StartRun of a huge run: %v", err)
	}
	if _, err := c.BatchJobID(t.Context(), "jbig", "1"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("a refused run left a record: %v", err)
	}
}
