// Package awsbatch is the compute port over AWS Batch: each run of a job is
// one Batch job on the job queue of the job's coretype, whose container
// runs the job agent (cmd/agent) with the run described in agentspec.Spec.
//
// # What the deployment provides
//
// Infra creates, per enabled coretype, a compute environment and a job
// queue (Config.Queues), and per software image a single-node job
// definition and, where MPI jobs may span nodes, a multi-node parallel one
// (Config.Definitions; container overrides cannot change the image, so the
// image picks the definition). The multi-node definition has one node
// range "0:" (every node runs the same agent container), main node 0,
// and a numNodes that SubmitJob overrides. Definitions declare integer
// vcpus/memory defaults; each run overrides VCPU and MEMORY for what the
// job asked.
//
// # A run as a Batch job
//
//   - Name job-<jobId>-run<runId>; parameters rescaleJobId, rescaleRunId,
//     rescaleOwnerId and rescaleOutputPrefix (in every DescribeJobs answer
//     and state change event, so an event names its run without a lookup);
//     the same ids as tags rescale:job, rescale:run, rescale:owner.
//   - The container (every node's, for a multi-node job) gets one
//     environment variable, agentspec.EnvVar, holding the whole run: see
//     package agentspec for its shape, its size limit and who can read it.
//   - A walltime becomes the job's attemptDurationSeconds plus
//     Config.WalltimeMargin, a backstop behind the agent's own walltime.
//
// # Where runs are tracked
//
// The adapter keeps one store item per run and one per stopped job, in a
// partition of the job's own:
//
//	BATCHJOB#<jobId> / RUN#<runId>   the Batch job id of the run's current attempt
//	BATCHJOB#<jobId> / STOP          the strongest stop asked for the job
//
// rather than finding Batch jobs with ListJobs by name: ListJobs needs a
// queue per call, is eventually consistent (a job submitted a moment ago
// may be missing, so a repeated StartRun would submit it twice), and lists
// finished jobs for a limited time only. The stop item is what makes a stop
// stick across processes: Stop, StartRun and Reserve run in different
// Lambda invocations. Items expire after Config.RecordTTL.
//
// # Stops
//
// All three stop modes are one TerminateJob, with the mode in its reason:
// Batch (through ECS) sends the container SIGTERM and, after the
// instance's ECS_CONTAINER_STOP_TIMEOUT (30 seconds unless the launch
// template sets more), SIGKILL. The agent cannot tell the modes apart, so
// on SIGTERM it stops the command as a graceful stop does and uploads
// the outputs before the timeout; events/batchstate removes them again for
// a shutdown (compute.Discard), once the Batch job has ended. A job not yet
// STARTING is cancelled by the same call and never runs.
//
// # Events
//
// Batch reports progress through EventBridge ("Batch Job State Change"),
// not through these calls. events/batchstate decodes such an event into a
// Detail and asks Event for the run's compute.Event: RUNNING is Running,
// SUCCEEDED is Exited with code 0, FAILED is Exited with the container's
// exit code and, by its reasons, Stopped (our TerminateJob reason
// "rescale:stop:<mode>"), WalltimeExceeded, or System (host terminated or
// Spot reclaimed, image pull and container start failures, capacity
// timeouts, the agent's agentspec.ExitSystem). Events of an attempt that is
// no longer the run's current one are dropped, so a late or repeated event
// cannot answer the next attempt's task.
package awsbatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/aws/smithy-go"

	"github.com/openrescale/platform/shared/compute"
	"github.com/openrescale/platform/shared/compute/agentspec"
	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/store"
)

// API is the part of the Batch client the adapter calls; *batch.Client is
// one.
type API interface {
	SubmitJob(ctx context.Context, in *batch.SubmitJobInput, opts ...func(*batch.Options)) (*batch.SubmitJobOutput, error)
	DescribeJobs(ctx context.Context, in *batch.DescribeJobsInput, opts ...func(*batch.Options)) (*batch.DescribeJobsOutput, error)
	TerminateJob(ctx context.Context, in *batch.TerminateJobInput, opts ...func(*batch.Options)) (*batch.TerminateJobOutput, error)
}

// Queue is one enabled coretype.
type Queue struct {
	// Queue is the job queue's name or ARN.
	Queue string `json:"queue"`
	// CoresPerNode is the coretype's cores per instance (what one node of a
	// job may have), and VCPUsPerCore the vCPUs Batch counts per core (2
	// for a coretype with hyperthreading on; 0 means 1).
	CoresPerNode int `json:"coresPerNode"`
	VCPUsPerCore int `json:"vcpusPerCore,omitempty"`
	// MaxNodes bounds a multi-node job (the compute environment's maxvCpus
	// over a node's); 0 means 1: single-node jobs only.
	MaxNodes int `json:"maxNodes,omitempty"`
	// MemoryMiBPerNode is what a container may reserve on one instance;
	// a run on part of a node gets its share. 0 keeps the definition's.
	MemoryMiBPerNode int `json:"memoryMiBPerNode,omitempty"`
	// StorageBytesPerNode is the instance's scratch volume; jobs asking for
	// more are refused. 0 checks nothing.
	StorageBytesPerNode int64 `json:"storageBytesPerNode,omitempty"`
}

// Definition names the job definitions of one software image (name,
// name:revision or ARN).
type Definition struct {
	Single string `json:"single"`
	// Multi is the multi-node parallel definition, "" if MPI runs of this
	// software may not span nodes.
	Multi string `json:"multi,omitempty"`
}

// DefaultDefinition is the Definitions key for software without an image
// of its own (user_included).
const DefaultDefinition = "*"

// DefinitionKey is the Definitions key of an analysis version; an analysis
// whose versions share an image uses version "*".
func DefinitionKey(analysis, version string) string { return analysis + "/" + version }

// Deployment is what infra tells the functions about the compute it
// created: the enabled coretypes' queues and the software images' job
// definitions, JSON-encoded in the EnvDeployment environment variable of
// every function that starts or stops runs (infra writes it, cmd/lambda
// reads it; one type so the two cannot drift).
type Deployment struct {
	Queues      map[string]Queue      `json:"queues"`
	Definitions map[string]Definition `json:"definitions"`
}

// EnvDeployment is the environment variable holding a Deployment.
const EnvDeployment = "BATCH_DEPLOYMENT"

// ParseDeployment decodes an EnvDeployment value, refusing unknown fields
// so a misspelt key fails at start-up rather than as a missing queue.
func ParseDeployment(s string) (Deployment, error) {
	var d Deployment
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return Deployment{}, fmt.Errorf("%s: %w", EnvDeployment, err)
	}
	return d, nil
}

// Backoff bounds the retries of a throttled SubmitJob.
type Backoff struct {
	Attempts  int           // 0: 10
	Base, Max time.Duration // 0: 200ms and 10s
}

// Config holds the adapter's dependencies and settings.
type Config struct {
	Client API
	Store  store.Store
	// Queues maps coretype codes to their queues: the enabled coretypes.
	Queues map[string]Queue
	// Definitions maps DefinitionKey(analysis, versionCode),
	// DefinitionKey(analysis, "*") or DefaultDefinition to job definitions,
	// looked up in that order.
	Definitions map[string]Definition
	// Bucket is the name of the bucket the agent stages inputs from and
	// writes outputs to.
	Bucket string
	// Submit is the backoff of throttled SubmitJob calls (Batch allows 50
	// per second per account), on top of the SDK client's own retries.
	Submit Backoff
	// WalltimeMargin is added to a run's walltime for Batch's timeout
	// (default 15 minutes): the agent stops the command at its walltime
	// and still has outputs to upload.
	WalltimeMargin time.Duration
	// AliveGrace keeps a finished Batch job alive for Alive that long
	// after it stopped (default 10 minutes), so the reconciler does not
	// race its state change event.
	AliveGrace time.Duration
	// ClaimTimeout is how long a StartRun that claimed a run but has not
	// recorded its Batch job (it crashed) holds the run (default 2 minutes).
	ClaimTimeout time.Duration
	// RecordTTL is how long run and stop items are kept (default 30 days).
	RecordTTL time.Duration
	Now       func() time.Time
	Log       *slog.Logger
}

// Compute is the adapter.
type Compute struct {
	cfg Config
}

var _ compute.Compute = (*Compute)(nil)

// New checks the configuration and returns the adapter.
func New(cfg Config) (*Compute, error) {
	if cfg.Client == nil || cfg.Store == nil {
		return nil, errors.New("awsbatch: Client and Store are required")
	}
	if cfg.Bucket == "" {
		return nil, errors.New("awsbatch: Bucket is required")
	}
	for code, q := range cfg.Queues {
		if q.Queue == "" || q.CoresPerNode < 1 {
			return nil, fmt.Errorf("awsbatch: coretype %s needs a queue and CoresPerNode", code)
		}
	}
	for k, d := range cfg.Definitions {
		if d.Single == "" {
			return nil, fmt.Errorf("awsbatch: definitions %s lack a single-node definition", k)
		}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.WalltimeMargin, 15*time.Minute)
	def(&cfg.AliveGrace, 10*time.Minute)
	def(&cfg.ClaimTimeout, 2*time.Minute)
	def(&cfg.RecordTTL, 30*24*time.Hour)
	def(&cfg.Submit.Base, 200*time.Millisecond)
	def(&cfg.Submit.Max, 10*time.Second)
	if cfg.Submit.Attempts <= 0 {
		cfg.Submit.Attempts = 10
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Compute{cfg: cfg}, nil
}

// Store keys.
func jobPK(jobID string) string { return "BATCHJOB#" + jobID }

const (
	runSKPrefix = "RUN#"
	stopSK      = "STOP"
)

// runRecord is the run's current attempt.
type runRecord struct {
	// BatchJobID is "" while a StartRun is submitting (ClaimedAt).
	BatchJobID  string    `json:"batchJobId,omitempty"`
	Name        string    `json:"name"`
	Queue       string    `json:"queue"`
	ClaimedAt   time.Time `json:"claimedAt"`
	SubmittedAt time.Time `json:"submittedAt,omitzero"`
}

type stopRecord struct {
	Mode compute.StopMode `json:"mode"`
	At   time.Time        `json:"at"`
}

// Batch job parameters and tags naming the run.
const (
	ParamJobID        = "rescaleJobId"
	ParamRunID        = "rescaleRunId"
	ParamOwnerID      = "rescaleOwnerId"
	ParamOutputPrefix = "rescaleOutputPrefix"
)

// JobName is the Batch job name of a run.
func JobName(jobID, runID string) string {
	return "job-" + nameSafe(jobID) + "-run" + nameSafe(runID)
}

// nameSafe keeps what Batch allows in a job name (letters, digits, - and
// _); platform ids are alphanumeric already.
func nameSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, s)
}

// Reasons given to TerminateJob, which Batch returns as the job's
// statusReason.
const (
	stopReasonPrefix = "rescale:stop:"
	// duplicateReason ends a Batch job submitted by a StartRun that lost
	// its claim on the run meanwhile; its events are ignored.
	duplicateReason = "rescale:duplicate"
)

// StopReason is the TerminateJob reason of a stop in mode.
func StopReason(mode compute.StopMode) string { return stopReasonPrefix + string(mode) }

func (c *Compute) queue(coretype string) (Queue, error) {
	q, ok := c.cfg.Queues[coretype]
	if !ok {
		return Queue{}, errs.E(errs.Invalid, "coretype %s is not enabled in this deployment", coretype)
	}
	return q, nil
}

func (c *Compute) definition(req compute.Requirements) (Definition, error) {
	keys := []string{DefinitionKey(req.Analysis, req.Version), DefinitionKey(req.Analysis, "*")}
	if strings.HasPrefix(req.Analysis, "user_included") || req.Analysis == "custom" {
		keys = append(keys, DefaultDefinition)
	}
	for _, k := range keys {
		if d, ok := c.cfg.Definitions[k]; ok {
			return d, nil
		}
	}
	name := req.VersionName
	if name == "" {
		name = req.Version
	}
	return Definition{}, errs.E(errs.Invalid, "%s %s is not available in this deployment", req.Analysis, name)
}

// Check refuses coretypes that are not enabled, software without a job
// definition, more cores than the coretype's largest job and more storage
// than its instances have.
func (c *Compute) Check(ctx context.Context, req compute.Requirements) error {
	q, err := c.queue(req.CoreType)
	if err != nil {
		return err
	}
	if _, err := c.definition(req); err != nil {
		return err
	}
	nodes := max(q.MaxNodes, 1)
	if most := q.CoresPerNode * nodes; req.Cores > most {
		return errs.E(errs.Invalid, "the job asks for %d cores and coretype %s offers at most %d (%d nodes of %d cores)",
			req.Cores, req.CoreType, most, nodes, q.CoresPerNode)
	}
	if q.StorageBytesPerNode > 0 && req.StorageBytes > q.StorageBytesPerNode {
		return errs.E(errs.Invalid, "the job asks for %d bytes of storage per node and coretype %s has %d",
			req.StorageBytes, req.CoreType, q.StorageBytesPerNode)
	}
	return nil
}

// Reserve admits the job at once: Batch queues the runs themselves, so
// there is nothing to wait for here and waiting is never called. A stopped
// job is refused.
func (c *Compute) Reserve(ctx context.Context, jobID string, cores int, waiting func()) error {
	mode, err := c.stopped(ctx, jobID)
	if err != nil {
		return err
	}
	if mode != "" {
		return compute.ErrStopped
	}
	return nil
}

// Release does nothing: Batch frees a job's instances when its runs end.
// The stop item stays until it expires; a job is submitted once.
func (c *Compute) Release(ctx context.Context, jobID string) error { return nil }

// stopped returns the job's stop mode, "" if it has not been stopped.
func (c *Compute) stopped(ctx context.Context, jobID string) (compute.StopMode, error) {
	it, err := c.cfg.Store.Get(ctx, jobPK(jobID), stopSK)
	if errs.Is(err, errs.NotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("stop state of job %s: %w", jobID, err)
	}
	var s stopRecord
	if err := json.Unmarshal(it.Data, &s); err != nil {
		return "", fmt.Errorf("decode stop state of job %s: %w", jobID, err)
	}
	return s.Mode, nil
}

func (c *Compute) getRun(ctx context.Context, jobID, runID string) (runRecord, int64, error) {
	it, err := c.cfg.Store.Get(ctx, jobPK(jobID), runSKPrefix+runID)
	if err != nil {
		return runRecord{}, 0, err
	}
	var r runRecord
	if err := json.Unmarshal(it.Data, &r); err != nil {
		return runRecord{}, 0, fmt.Errorf("decode Batch job of run %s of job %s: %w", runID, jobID, err)
	}
	return r, it.Version, nil
}

func (c *Compute) putRun(ctx context.Context, jobID, runID string, r runRecord, cond store.Cond) (int64, error) {
	data, err := json.Marshal(r)
	if err != nil {
		return 0, err
	}
	it, err := c.cfg.Store.Put(ctx, store.Item{PK: jobPK(jobID), SK: runSKPrefix + runID, Data: data,
		ExpiresAt: c.cfg.Now().Add(c.cfg.RecordTTL)}, cond)
	if err != nil {
		return 0, err
	}
	return it.Version, nil
}

// StartRun submits the run's Batch job and records its id. A run whose
// current Batch job has not finished is left alone (starting twice is not
// an error); one whose Batch job has finished is submitted again (a
// retried run). Concurrent calls for a run submit once: each claims the
// run's item first.
func (c *Compute) StartRun(ctx context.Context, r compute.Run) error {
	q, err := c.queue(r.Req.CoreType)
	if err != nil {
		return err
	}
	def, err := c.definition(r.Req)
	if err != nil {
		return err
	}
	in, err := c.submitInput(r, q, def)
	if err != nil {
		return err
	}
	if mode, err := c.stopped(ctx, r.JobID); err != nil {
		return err
	} else if mode != "" {
		return compute.ErrStopped
	}

	now := c.cfg.Now()
	claim := runRecord{Name: aws.ToString(in.JobName), Queue: q.Queue, ClaimedAt: now}
	cond := store.Cond{IfAbsent: true}
	prev, version, err := c.getRun(ctx, r.JobID, r.RunID)
	switch {
	case errs.Is(err, errs.NotFound):
	case err != nil:
		return err
	case prev.BatchJobID == "" && now.Sub(prev.ClaimedAt) < c.cfg.ClaimTimeout:
		return nil // another call is submitting it
	case prev.BatchJobID != "":
		d, found, err := c.describe(ctx, prev.BatchJobID)
		if err != nil {
			return err
		}
		if found && !terminal(d.Status) {
			return nil // running already
		}
		fallthrough
	default:
		cond = store.Cond{IfVersion: version}
	}
	claimed, err := c.putRun(ctx, r.JobID, r.RunID, claim, cond)
	if errs.Is(err, errs.Conflict) {
		return nil // another call claimed it and submits it
	}
	if err != nil {
		return fmt.Errorf("claim run %s of job %s: %w", r.RunID, r.JobID, err)
	}

	out, err := c.submit(ctx, in)
	if err != nil {
		// Let the next attempt claim the run at once.
		if derr := c.cfg.Store.Delete(ctx, jobPK(r.JobID), runSKPrefix+r.RunID, store.Cond{IfVersion: claimed}); derr != nil {
			c.cfg.Log.WarnContext(ctx, "drop claim after failed submit", "job", r.JobID, "run", r.RunID, "err", derr)
		}
		return errs.Wrap(errs.Unavailable, err, "submit Batch job %s", aws.ToString(in.JobName))
	}
	id := aws.ToString(out.JobId)
	claim.BatchJobID, claim.SubmittedAt = id, c.cfg.Now()
	if _, err := c.putRun(ctx, r.JobID, r.RunID, claim, store.Cond{IfVersion: claimed}); err != nil {
		// Our claim timed out and another call took over: that call's
		// Batch job is the run; this one goes.
		c.cfg.Log.WarnContext(ctx, "run claimed meanwhile; ending the duplicate Batch job",
			"job", r.JobID, "run", r.RunID, "batchJob", id, "err", err)
		if terr := c.terminate(ctx, id, duplicateReason); terr != nil {
			return terr
		}
		if errs.Is(err, errs.Conflict) {
			return nil
		}
		return fmt.Errorf("record Batch job of run %s of job %s: %w", r.RunID, r.JobID, err)
	}
	// A Stop between the check above and the record found no Batch job to
	// end; it is applied now.
	mode, err := c.stopped(ctx, r.JobID)
	if err != nil {
		return err
	}
	if mode != "" {
		return c.terminate(ctx, id, StopReason(mode))
	}
	return nil
}

// submitInput builds the run's SubmitJob request.
func (c *Compute) submitInput(r compute.Run, q Queue, def Definition) (*batch.SubmitJobInput, error) {
	nodes, perNode := 1, min(r.Req.Cores, q.CoresPerNode)
	if r.UseMPI && r.Req.Cores > q.CoresPerNode {
		// MPI ranks spread over whole nodes; a job that is not MPI runs on
		// one node, as Rescale runs such commands on the cluster's head node.
		nodes = (r.Req.Cores + q.CoresPerNode - 1) / q.CoresPerNode
		perNode = q.CoresPerNode
		if nodes > max(q.MaxNodes, 1) {
			return nil, errs.E(errs.Invalid, "the job needs %d nodes of coretype %s, which offers %d", nodes, r.Req.CoreType, max(q.MaxNodes, 1))
		}
		if def.Multi == "" {
			return nil, errs.E(errs.Invalid, "%s %s cannot run on more than one node in this deployment", r.Req.Analysis, r.Req.Version)
		}
	}
	perNode = max(perNode, 1)
	spec := agentspec.Spec{
		Version: agentspec.Version, JobID: r.JobID, RunID: r.RunID, OwnerID: r.OwnerID,
		Analysis: r.Req.Analysis, AnalysisVersion: r.Req.Version, CoreType: r.Req.CoreType,
		Cores: r.Req.Cores, Nodes: nodes, CoresPerNode: perNode, StorageBytes: r.Req.StorageBytes,
		Bucket: c.cfg.Bucket, OutputPrefix: r.OutputPrefix,
		Command: r.Command, PreCommand: r.PreCommand, PostCommand: r.PostCommand, UseMPI: r.UseMPI,
		WalltimeSeconds: int64(r.Walltime / time.Second), Include: r.Include, Exclude: r.Exclude, Env: r.Env,
	}
	for _, f := range r.Inputs {
		spec.Inputs = append(spec.Inputs, agentspec.Input{Name: f.Name, Key: f.Key, Executable: f.Executable})
	}
	encoded, err := spec.Encode()
	if err != nil {
		var tl *agentspec.TooLargeError
		if errors.As(err, &tl) {
			return nil, errs.Wrap(errs.Invalid, err, "run %s of job %s cannot be sent to AWS Batch", r.RunID, r.JobID)
		}
		return nil, fmt.Errorf("run %s of job %s: %w", r.RunID, r.JobID, err)
	}
	vcpus := perNode * max(q.VCPUsPerCore, 1)
	res := []types.ResourceRequirement{{Type: types.ResourceTypeVcpu, Value: aws.String(strconv.Itoa(vcpus))}}
	if q.MemoryMiBPerNode > 0 {
		mem := q.MemoryMiBPerNode * perNode / q.CoresPerNode
		res = append(res, types.ResourceRequirement{Type: types.ResourceTypeMemory, Value: aws.String(strconv.Itoa(mem))})
	}
	overrides := &types.ContainerOverrides{
		Environment:          []types.KeyValuePair{{Name: aws.String(agentspec.EnvVar), Value: aws.String(encoded)}},
		ResourceRequirements: res,
	}
	in := &batch.SubmitJobInput{
		JobName:  aws.String(JobName(r.JobID, r.RunID)),
		JobQueue: aws.String(q.Queue),
		Parameters: map[string]string{
			ParamJobID: r.JobID, ParamRunID: r.RunID, ParamOwnerID: r.OwnerID, ParamOutputPrefix: r.OutputPrefix,
		},
		Tags: map[string]string{"rescale:job": r.JobID, "rescale:run": r.RunID, "rescale:owner": r.OwnerID},
	}
	if nodes > 1 {
		in.JobDefinition = aws.String(def.Multi)
		in.NodeOverrides = &types.NodeOverrides{
			NumNodes:              aws.Int32(int32(nodes)),
			NodePropertyOverrides: []types.NodePropertyOverride{{TargetNodes: aws.String("0:"), ContainerOverrides: overrides}},
		}
	} else {
		in.JobDefinition = aws.String(def.Single)
		in.ContainerOverrides = overrides
	}
	if r.Walltime > 0 {
		secs := max(int64((r.Walltime+c.cfg.WalltimeMargin)/time.Second), 60) // Batch's minimum
		in.Timeout = &types.JobTimeout{AttemptDurationSeconds: aws.Int32(int32(min(secs, 1<<31-1)))}
	}
	return in, nil
}

// submit calls SubmitJob, backing off while Batch throttles.
func (c *Compute) submit(ctx context.Context, in *batch.SubmitJobInput) (*batch.SubmitJobOutput, error) {
	b := c.cfg.Submit
	delay := b.Base
	for attempt := 1; ; attempt++ {
		out, err := c.cfg.Client.SubmitJob(ctx, in)
		if err == nil || !Throttled(err) || attempt >= b.Attempts {
			return out, err
		}
		// Full jitter over [delay/2, delay]: runs of a large job submit
		// together and must not retry in lockstep.
		wait := delay/2 + rand.N(delay/2+1)
		c.cfg.Log.InfoContext(ctx, "SubmitJob throttled; backing off", "job", aws.ToString(in.JobName), "attempt", attempt, "wait", wait)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil, errors.Join(ctx.Err(), err)
		}
		delay = min(2*delay, b.Max)
	}
}

// Throttled reports whether err is AWS refusing a call for its rate:
// Batch answers HTTP 429 TooManyRequestsException.
func Throttled(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "TooManyRequestsException", "ThrottlingException", "Throttling", "ThrottledException", "RequestLimitExceeded":
			return true
		}
	}
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == 429
}

// Stop ends runs with TerminateJob, which ends a Batch job in every state
// (CancelJob leaves STARTING and RUNNING jobs alone). For the whole job
// (runID "") it first records the stop, so runs started later are refused
// or ended as they start; a stronger mode replaces a weaker one.
func (c *Compute) Stop(ctx context.Context, jobID, runID string, mode compute.StopMode) error {
	if !mode.Valid() {
		return errs.E(errs.Invalid, "unknown stop mode %q", mode)
	}
	var runs []runRecord
	if runID == "" {
		if err := c.recordStop(ctx, jobID, mode); err != nil {
			return err
		}
		res, err := c.cfg.Store.Query(ctx, store.Query{PK: jobPK(jobID), SKPrefix: runSKPrefix})
		if err != nil {
			return fmt.Errorf("runs of job %s: %w", jobID, err)
		}
		for _, it := range res.Items {
			var r runRecord
			if err := json.Unmarshal(it.Data, &r); err != nil {
				return fmt.Errorf("decode %s: %w", it.SK, err)
			}
			runs = append(runs, r)
		}
	} else {
		r, _, err := c.getRun(ctx, jobID, runID)
		if errs.Is(err, errs.NotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		runs = append(runs, r)
	}
	var failed []error
	for _, r := range runs {
		if r.BatchJobID == "" {
			continue // being submitted: StartRun applies the stop
		}
		if err := c.terminate(ctx, r.BatchJobID, StopReason(mode)); err != nil {
			failed = append(failed, err)
		}
	}
	return errors.Join(failed...)
}

func (c *Compute) recordStop(ctx context.Context, jobID string, mode compute.StopMode) error {
	for range 16 {
		it, err := c.cfg.Store.Get(ctx, jobPK(jobID), stopSK)
		cond := store.Cond{IfAbsent: true}
		switch {
		case errs.Is(err, errs.NotFound):
		case err != nil:
			return fmt.Errorf("stop state of job %s: %w", jobID, err)
		default:
			var cur stopRecord
			if err := json.Unmarshal(it.Data, &cur); err != nil {
				return fmt.Errorf("decode stop state of job %s: %w", jobID, err)
			}
			if strength(cur.Mode) >= strength(mode) {
				return nil
			}
			cond = store.Cond{IfVersion: it.Version}
		}
		data, _ := json.Marshal(stopRecord{Mode: mode, At: c.cfg.Now().UTC()})
		_, err = c.cfg.Store.Put(ctx, store.Item{PK: jobPK(jobID), SK: stopSK, Data: data,
			ExpiresAt: c.cfg.Now().Add(c.cfg.RecordTTL)}, cond)
		if errs.Is(err, errs.Conflict) {
			continue
		}
		if err != nil {
			return fmt.Errorf("record stop of job %s: %w", jobID, err)
		}
		return nil
	}
	return errs.E(errs.Conflict, "the stop state of job %s is being changed concurrently", jobID)
}

func strength(m compute.StopMode) int {
	switch m {
	case compute.Graceful:
		return 1
	case compute.Force:
		return 2
	case compute.Discard:
		return 3
	}
	return 0
}

func (c *Compute) terminate(ctx context.Context, batchJobID, reason string) error {
	_, err := c.cfg.Client.TerminateJob(ctx, &batch.TerminateJobInput{JobId: aws.String(batchJobID), Reason: aws.String(reason)})
	if err != nil {
		var ce *types.ClientException
		if errors.As(err, &ce) {
			// An id Batch no longer knows: nothing left to end.
			c.cfg.Log.WarnContext(ctx, "TerminateJob refused", "batchJob", batchJobID, "err", err)
			return nil
		}
		return errs.Wrap(errs.Unavailable, err, "terminate Batch job %s", batchJobID)
	}
	return nil
}

// describe returns the Batch job's detail; found is false for an id Batch
// does not know (any more).
func (c *Compute) describe(ctx context.Context, batchJobID string) (types.JobDetail, bool, error) {
	out, err := c.cfg.Client.DescribeJobs(ctx, &batch.DescribeJobsInput{Jobs: []string{batchJobID}})
	if err != nil {
		return types.JobDetail{}, false, errs.Wrap(errs.Unavailable, err, "describe Batch job %s", batchJobID)
	}
	for _, d := range out.Jobs {
		if aws.ToString(d.JobId) == batchJobID {
			return d, true, nil
		}
	}
	return types.JobDetail{}, false, nil
}

func terminal(s types.JobStatus) bool {
	return s == types.JobStatusSucceeded || s == types.JobStatusFailed
}

// Alive reports whether the run's current Batch job has not finished, or
// finished less than AliveGrace ago (its state change event may still be on
// its way). A run being submitted is alive; a run with no Batch job, or
// one Batch no longer knows, is not.
func (c *Compute) Alive(ctx context.Context, jobID, runID string) (bool, error) {
	r, _, err := c.getRun(ctx, jobID, runID)
	if errs.Is(err, errs.NotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if r.BatchJobID == "" {
		return c.cfg.Now().Sub(r.ClaimedAt) < c.cfg.ClaimTimeout, nil
	}
	d, found, err := c.describe(ctx, r.BatchJobID)
	if err != nil || !found {
		return false, err
	}
	if !terminal(d.Status) {
		return true, nil
	}
	stopped := aws.ToInt64(d.StoppedAt)
	if stopped == 0 {
		return false, nil
	}
	return c.cfg.Now().Sub(time.UnixMilli(stopped)) < c.cfg.AliveGrace, nil
}

// BatchJobID returns the Batch job id of the run's current attempt, ""
// while it is being submitted; errs.NotFound if the run was never started
// here.
func (c *Compute) BatchJobID(ctx context.Context, jobID, runID string) (string, error) {
	r, _, err := c.getRun(ctx, jobID, runID)
	if errs.Is(err, errs.NotFound) {
		return "", errs.E(errs.NotFound, "run %s of job %s has no Batch job", runID, jobID)
	}
	return r.BatchJobID, err
}

// Event turns a Batch job's state change into its run's event: the
// translation of EventOf, checked against the store. ok is false for
// changes that are no run's news: states between submission and RUNNING,
// jobs that are not runs, nodes of a multi-node job (the job itself
// reports), and attempts that are no longer their run's current one. A
// stopped run reports the strongest stop asked for its job, which may
// have come after the TerminateJob that ended it.
func (c *Compute) Event(ctx context.Context, d Detail) (compute.Event, bool, error) {
	ev, ok := EventOf(d)
	if !ok {
		return compute.Event{}, false, nil
	}
	r, _, err := c.getRun(ctx, ev.JobID, ev.RunID)
	switch {
	case errs.Is(err, errs.NotFound):
		// Expired, or submitted by a version that kept no items: the
		// event speaks for itself.
	case err != nil:
		return compute.Event{}, false, err
	case r.BatchJobID != "" && r.BatchJobID != d.JobID:
		c.cfg.Log.InfoContext(ctx, "event of a superseded Batch job", "job", ev.JobID, "run", ev.RunID,
			"batchJob", d.JobID, "current", r.BatchJobID, "status", d.Status)
		return compute.Event{}, false, nil
	}
	if ev.Stopped != "" {
		mode, err := c.stopped(ctx, ev.JobID)
		if err != nil {
			return compute.Event{}, false, err
		}
		if strength(mode) > strength(ev.Stopped) {
			ev.Stopped = mode
		}
	}
	return ev, true, nil
}
