package lifecycle

import (
	"context"
	"crypto/md5"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/openrescale/platform/shared/accounts"
	"github.com/openrescale/platform/shared/blob"
	"github.com/openrescale/platform/shared/compute"
	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/files"
	"github.com/openrescale/platform/shared/ids"
	"github.com/openrescale/platform/shared/jobs"
	"github.com/openrescale/platform/shared/store"
)

// Error names, as the state machine's Retry and Catch match them.
const (
	// ErrSystem: the platform failed (store, compute, sandbox, lost
	// process). Retried with its own budget.
	ErrSystem = "SystemError"
	// ErrInvalid: the job cannot run here (software, cores, disk).
	ErrInvalid = "JobInvalid"
	// ErrStopped: the job was stopped.
	ErrStopped = "JobStopped"
	// ErrUserCommand: the user's command failed (non-zero exit,
	// walltime). Never retried.
	ErrUserCommand = "UserCommandFailed"
)

// StepError is a step's failure as the state machine sees it: Name is
// matched by Retry/Catch, Cause is the reason in words.
type StepError struct {
	Name  string
	Cause string
}

func (e *StepError) Error() string { return e.Name + ": " + e.Cause }

func stepErr(name, format string, args ...any) error {
	return &StepError{Name: name, Cause: fmt.Sprintf(format, args...)}
}

// systemErr wraps an unexpected error as a retriable SystemError; a
// StepError passes through.
func systemErr(err error) error {
	var se *StepError
	if errors.As(err, &se) {
		return err
	}
	return &StepError{Name: ErrSystem, Cause: err.Error()}
}

func errStopped(j jobs.Job) error {
	return stepErr(ErrStopped, "job %s is %s", j.ID, strings.ToLower(jobs.StatusDisplay(j.Status)))
}

// Ref is what every step gets from the state machine: ids only.
type Ref struct {
	JobID     string          `json:"jobId"`
	OwnerID   string          `json:"ownerId"`
	Run       string          `json:"run,omitempty"`
	TaskToken string          `json:"taskToken,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Failure   *Failure        `json:"failure,omitempty"`
}

// Failure is a caught error as the state machine passes it on.
type Failure struct {
	Error string `json:"Error"`
	Cause string `json:"Cause"`
}

// Plan is what Validate returns: the runs to execute.
type Plan struct {
	Runs []string `json:"runs"`
}

// Final is what Finish returns.
type Final struct {
	Failed bool   `json:"failed"`
	Reason string `json:"reason"`
}

// Collected is what CollectOutputs returns.
type Collected struct {
	Files int   `json:"files"`
	Bytes int64 `json:"bytes"`
}

const scheduler = "scheduler"

func (s *Service) job(ctx context.Context, ref Ref) (jobs.Job, error) {
	j, _, err := s.cfg.Jobs.Get(ctx, ref.OwnerID, ref.JobID)
	if errs.Is(err, errs.NotFound) {
		return jobs.Job{}, stepErr(ErrInvalid, "job %s no longer exists", ref.JobID)
	}
	if err != nil {
		return jobs.Job{}, systemErr(err)
	}
	return j, nil
}

// requirements derive what the job asks of compute.
func (s *Service) requirements(j jobs.Job) (compute.Requirements, error) {
	if len(j.Spec.JobAnalyses) == 0 {
		return compute.Requirements{}, stepErr(ErrInvalid, "the job has no jobanalyses")
	}
	ja := j.Spec.JobAnalyses[0]
	_, ver, err := s.cfg.Catalog.FindVersion(ja.Analysis.Code, ja.Analysis.Version)
	if err != nil {
		return compute.Requirements{}, stepErr(ErrInvalid, "%s", message(err))
	}
	return compute.Requirements{
		Analysis: ja.Analysis.Code, Version: ver.VersionCode, VersionName: ver.Version,
		CoreType: ja.Hardware.CoreType, Cores: cores(ja.Hardware),
	}, nil
}

func cores(h jobs.Hardware) int {
	per, slots := max(h.CoresPerSlot, 1), max(h.Slots, 1)
	return int(per * slots)
}

// message is an error's client-facing text.
func message(err error) string {
	if e, ok := errs.As(err); ok && e.Message != "" {
		return e.Message
	}
	return err.Error()
}

// Validate checks that the job can run on this deployment's compute and
// plans its runs, creating their records and output folders.
func (s *Service) Validate(ctx context.Context, ref Ref) (Plan, error) {
	j, err := s.job(ctx, ref)
	if err != nil {
		return Plan{}, err
	}
	if Ended(j.Status) {
		return Plan{}, errStopped(j)
	}
	req, err := s.requirements(j)
	if err != nil {
		return Plan{}, err
	}
	if err := s.cfg.Compute.Check(ctx, req); err != nil {
		if errs.Is(err, errs.Invalid) {
			return Plan{}, stepErr(ErrInvalid, "%s", message(err))
		}
		return Plan{}, systemErr(err)
	}
	// Inputs deleted since the job was saved fail it now, not when its
	// run starts.
	for _, id := range j.Spec.FileIDs() {
		f, err := s.cfg.Files.Get(ctx, j.OwnerID, id)
		if errs.Is(err, errs.NotFound) || (err == nil && (f.IsDeleted || !f.IsUploaded)) {
			return Plan{}, stepErr(ErrInvalid, "input file %s no longer exists or has not finished uploading", id)
		}
		if err != nil {
			return Plan{}, systemErr(err)
		}
	}
	folder, err := s.cfg.Folders.CreateJobFolder(ctx, j.OwnerID, j.ID, j.Spec.Name)
	if err != nil {
		return Plan{}, systemErr(fmt.Errorf("job folder: %w", err))
	}
	rec, err := s.getRecord(ctx, j.OwnerID, j.ID)
	if err != nil {
		return Plan{}, systemErr(err)
	}
	runs, err := s.planRuns(ctx, j, rec.Seed)
	if err != nil {
		if errs.Is(err, errs.Invalid) {
			return Plan{}, stepErr(ErrInvalid, "%s", message(err))
		}
		return Plan{}, systemErr(err)
	}
	var plan Plan
	for i, r := range runs {
		id := strconv.Itoa(r.Index)
		plan.Runs = append(plan.Runs, id)
		if err := s.createRun(ctx, j, folder.ID, id, i+1, r.Type, runVariables(r)); err != nil {
			return Plan{}, systemErr(err)
		}
	}
	_, _, err = s.apply(ctx, j.OwnerID, j.ID, change{edit: func(_ jobs.Job, r *Record) error {
		if len(r.Runs) == 0 {
			s.addLog(r, "INFO", scheduler, "Verifying job submission preconditions.")
			s.addLog(r, "INFO", scheduler, "Preconditions have been satisfied.")
		}
		r.Runs, r.Cores = plan.Runs, req.Cores
		return nil
	}})
	if err != nil {
		return Plan{}, systemErr(err)
	}
	return plan, nil
}

// createRun writes a run's record and output folder, once: a retried
// Validate finds them.
func (s *Service) createRun(ctx context.Context, j jobs.Job, jobFolder, id string, order, typ int, vars []Variable) error {
	if _, err := s.getRun(ctx, j.OwnerID, j.ID, id); err == nil {
		return nil
	} else if !errs.Is(err, errs.NotFound) {
		return err
	}
	name := "run" + id
	f, err := s.cfg.Folders.CreateJobSubfolder(ctx, j.OwnerID, jobFolder, name, true)
	if e, ok := errs.As(err); ok && e.Field == "name" {
		// Made by an attempt that failed before writing the run.
		c, cerr := s.cfg.Folders.Contents(ctx, j.OwnerID, jobFolder, 0, 0)
		if cerr != nil {
			return fmt.Errorf("run folder %s: %w", name, cerr)
		}
		for _, sub := range c.Folders {
			if sub.Name == name {
				f, err = sub, nil
			}
		}
	}
	if err != nil {
		return fmt.Errorf("run folder %s: %w", name, err)
	}
	if typ == 0 {
		typ = RunTypeCase
	}
	if vars == nil {
		vars = []Variable{}
	}
	r := Run{JobID: j.ID, OwnerID: j.OwnerID, ID: id, DisplayOrder: order, Type: typ,
		Variables: vars, State: RunPending, FolderID: f.ID}
	it, err := s.runItem(r)
	if err != nil {
		return err
	}
	if _, err := s.cfg.Store.Put(ctx, it, store.Cond{IfAbsent: true}); err != nil && !errs.Is(err, errs.Conflict) {
		return fmt.Errorf("create run %s: %w", id, err)
	}
	return nil
}

// Queue waits for capacity: "Waiting for Queue" while it must wait, then
// "Queued".
func (s *Service) Queue(ctx context.Context, ref Ref) error {
	j, err := s.job(ctx, ref)
	if err != nil {
		return err
	}
	if Ended(j.Status) {
		return errStopped(j)
	}
	rec, err := s.getRecord(ctx, j.OwnerID, j.ID)
	if err != nil {
		return systemErr(err)
	}
	waiting := func() {
		_, _, err := s.advance(ctx, j.OwnerID, j.ID, jobs.StatusWaitingForQueue, func(_ jobs.Job, r *Record) error {
			s.addLog(r, "INFO", scheduler, fmt.Sprintf("Waiting for %d free cores.", r.Cores))
			return nil
		})
		if err != nil {
			s.log.WarnContext(ctx, "record waiting for queue", "job", j.ID, "err", err)
		}
	}
	if err := s.cfg.Compute.Reserve(ctx, j.ID, rec.Cores, waiting); err != nil {
		if errors.Is(err, compute.ErrStopped) {
			return stepErr(ErrStopped, "job %s was stopped while queued", j.ID)
		}
		return systemErr(err)
	}
	if _, _, err := s.advance(ctx, j.OwnerID, j.ID, jobs.StatusQueued, nil); err != nil {
		return systemErr(err)
	}
	return nil
}

// StartCluster starts the job's cluster (locally: the reserved cores) and
// records it Started and the job Started, then Validated.
func (s *Service) StartCluster(ctx context.Context, ref Ref) error {
	_, _, err := s.advance(ctx, ref.OwnerID, ref.JobID, jobs.StatusStarted, func(_ jobs.Job, r *Record) error {
		s.addLog(r, "INFO", scheduler, "Starting server(s)")
		s.clusterStatus(r, "Starting")
		s.clusterStatus(r, "Started")
		s.addLog(r, "INFO", scheduler, "Server(s) Started")
		r.Started = true
		return nil
	})
	if err != nil {
		return systemErr(err)
	}
	if _, _, err := s.advance(ctx, ref.OwnerID, ref.JobID, jobs.StatusValidated, nil); err != nil {
		return systemErr(err)
	}
	return nil
}

// StartRun starts one run on compute and returns; the run's end answers
// token (RecordEvent).
func (s *Service) StartRun(ctx context.Context, ref Ref, token string) error {
	j, err := s.job(ctx, ref)
	if err != nil {
		return err
	}
	if Ended(j.Status) {
		return errStopped(j)
	}
	_, rec, err := s.advance(ctx, j.OwnerID, j.ID, jobs.StatusExecuting, func(_ jobs.Job, r *Record) error {
		s.addLog(r, "DEBUG", scheduler, "Running workflow...")
		return nil
	})
	if err != nil {
		return systemErr(err)
	}
	if rec.Stop != "" {
		return stepErr(ErrStopped, "job %s was stopped", j.ID)
	}
	run, err := s.updateRun(ctx, j.OwnerID, j.ID, ref.Run, func(r *Run) error {
		r.Token, r.State, r.ExitCode, r.Reason = token, RunRunning, nil, ""
		r.Attempts++
		return nil
	})
	if err != nil {
		return systemErr(err)
	}
	if run.Attempts > 1 {
		// A retried run starts clean: what a failed attempt saved is not
		// this attempt's output.
		if err := s.removeOutputs(ctx, outputPrefix(j.OwnerID, j.ID, run.ID)); err != nil {
			return systemErr(err)
		}
	}
	req, err := s.requirements(j)
	if err != nil {
		return err
	}
	cr, err := s.runSpec(ctx, j, run, req)
	if err != nil {
		return err
	}
	rendered, err := s.renderTemplates(ctx, j, run)
	if err != nil {
		return err
	}
	cr.Inputs = append(cr.Inputs, rendered...)
	if j.Spec.IsTemplateDryRun {
		// A dry run renders the templates, which come back as outputs,
		// and runs nothing.
		cr.Command, cr.PreCommand, cr.PostCommand = "true", "", ""
	}
	if err := s.cfg.Compute.StartRun(ctx, cr); err != nil {
		if errors.Is(err, compute.ErrStopped) {
			return stepErr(ErrStopped, "job %s was stopped", j.ID)
		}
		return systemErr(err)
	}
	// A stop that came between the check above and the start found no run
	// to stop; it is applied now.
	if rec, err := s.getRecord(ctx, j.OwnerID, j.ID); err == nil && rec.Stop != "" {
		if err := s.cfg.Compute.Stop(ctx, j.ID, "", rec.Stop); err != nil {
			s.log.WarnContext(ctx, "stop after start", "job", j.ID, "err", err)
		}
	}
	return nil
}

func (s *Service) removeOutputs(ctx context.Context, prefix string) error {
	var keys []string
	if err := s.cfg.Bucket.List(ctx, prefix, func(a blob.Attrs) error {
		keys = append(keys, a.Key)
		return nil
	}); err != nil {
		return fmt.Errorf("list outputs %s: %w", prefix, err)
	}
	for _, k := range keys {
		if err := s.cfg.Bucket.Delete(ctx, k); err != nil {
			return fmt.Errorf("remove stale output %s: %w", k, err)
		}
	}
	return nil
}

// runSpec builds compute's view of a run: command, inputs, environment
// and a job-scoped API key.
func (s *Service) runSpec(ctx context.Context, j jobs.Job, run Run, req compute.Requirements) (compute.Run, error) {
	ja := j.Spec.JobAnalyses[0]
	cr := compute.Run{
		JobID: j.ID, OwnerID: j.OwnerID, RunID: run.ID, Req: req,
		UseMPI: ja.UseMPI, OutputPrefix: outputPrefix(j.OwnerID, j.ID, run.ID),
		Env: map[string]string{},
	}
	var commands []string
	for _, a := range j.Spec.JobAnalyses {
		if strings.TrimSpace(a.Command) != "" {
			commands = append(commands, a.Command)
		}
	}
	var first string
	for _, a := range j.Spec.JobAnalyses {
		for _, ref := range a.InputFiles {
			f, err := s.cfg.Files.Get(ctx, j.OwnerID, ref.ID)
			if err != nil {
				return compute.Run{}, stepErr(ErrInvalid, "input file %s: %s", ref.ID, message(err))
			}
			if first == "" {
				first = f.Name
			}
			cr.Inputs = append(cr.Inputs, compute.File{Name: f.Name, Key: f.Key})
		}
		for k, v := range a.EnvVars {
			cr.Env[k] = v
		}
	}
	script := func(ref *jobs.FileRef, command string) (string, error) {
		if ref == nil || ref.ID == "" {
			return command, nil
		}
		f, err := s.cfg.Files.Get(ctx, j.OwnerID, ref.ID)
		if err != nil {
			return "", stepErr(ErrInvalid, "script file %s: %s", ref.ID, message(err))
		}
		cr.Inputs = append(cr.Inputs, compute.File{Name: f.Name, Key: f.Key})
		if command == "" {
			command = "bash ./" + f.Name
		}
		return command, nil
	}
	var err error
	if cr.PreCommand, err = script(ja.PreProcessScript, ja.PreProcessScriptCommand); err != nil {
		return compute.Run{}, err
	}
	if cr.PostCommand, err = script(ja.PostProcessScript, ja.PostProcessScriptCommand); err != nil {
		return compute.Run{}, err
	}
	cr.Include, cr.Exclude = outputFilters(j.Spec.ResourceFilters)
	cr.Cores = req.Cores
	if rec, err := s.getRecord(ctx, j.OwnerID, j.ID); err == nil && len(rec.Runs) > 1 {
		cr.Cores = int(max(ja.Hardware.CoresPerSlot, 1))
	}
	per, slots := max(ja.Hardware.CoresPerSlot, 1), max(ja.Hardware.Slots, 1)
	fill := strings.NewReplacer(
		"<mpi-ranks>", strconv.Itoa(req.Cores),
		"<smp-ranks>", strconv.FormatInt(per, 10),
		"<input-filename>", first,
		"<input-file>", first,
	)
	cr.Command = fill.Replace(strings.Join(commands, "\n"))
	if ja.Hardware.Walltime != nil && *ja.Hardware.Walltime > 0 {
		cr.Walltime = time.Duration(*ja.Hardware.Walltime) * time.Hour
	}
	_, secret, err := s.cfg.Keys.CreateKey(ctx, j.OwnerID, accounts.KeyOptions{JobID: j.ID, TTL: s.cfg.KeyTTL})
	if err != nil {
		return compute.Run{}, systemErr(fmt.Errorf("job key: %w", err))
	}
	for k, v := range map[string]string{
		"RESCALE_JOB_ID":           j.ID,
		"RESCALE_RUN_ID":           run.ID,
		"RESCALE_RUN_NUMBER":       run.ID,
		"RESCALE_CORES_PER_SLOT":   strconv.FormatInt(per, 10),
		"RESCALE_SLOTS":            strconv.FormatInt(slots, 10),
		"RESCALE_TOTAL_CORES":      strconv.Itoa(req.Cores),
		"RESCALE_NODES_PER_SLOT":   "1",
		"RESCALE_CORETYPE":         req.CoreType,
		"RESCALE_ANALYSIS":         req.Analysis,
		"RESCALE_ANALYSIS_VERSION": req.Version,
		"RESCALE_API_URL":          s.cfg.APIURL,
		"RESCALE_API_KEY":          secret,
	} {
		cr.Env[k] = v
	}
	return cr, nil
}

// categoryFilters are the resourceFilters types Rescale names by what they
// select rather than by pattern; every output belongs to one of them
// here, so including them keeps the default (everything).
var categoryFilters = map[string]bool{"Analysis generated files": true, "Completed templates": true, "Input files": true}

// outputFilters turns a job's resourceFilters into include and exclude
// globs: a filter whose type is not one of the categories selects by its
// selector, a glob of relative paths ("*.log", "airFoil2D/**/U").
func outputFilters(raw []json.RawMessage) (include, exclude []string) {
	for _, r := range raw {
		var f struct {
			Include    *bool  `json:"include"`
			FilterType string `json:"filterType"`
			Selector   string `json:"selector"`
		}
		if json.Unmarshal(r, &f) != nil || f.Selector == "" || categoryFilters[f.FilterType] {
			continue
		}
		if f.Include == nil || *f.Include {
			include = append(include, f.Selector)
		} else {
			exclude = append(exclude, f.Selector)
		}
	}
	return include, exclude
}

// RecordEvent applies a run's progress reported by compute, and when the
// run has ended, answers the state machine's task for it.
func (s *Service) RecordEvent(ctx context.Context, ev compute.Event) error {
	switch ev.State {
	case compute.Running:
		_, err := s.updateRun(ctx, ev.OwnerID, ev.JobID, ev.RunID, func(r *Run) error {
			if r.DateStarted == nil {
				t := ev.Time.UTC()
				r.DateStarted = &t
			}
			return nil
		})
		return err
	case compute.Exited:
	default:
		return errs.E(errs.Invalid, "unknown run state %q", ev.State)
	}
	name, cause := outcome(ev)
	var token string
	_, err := s.updateRun(ctx, ev.OwnerID, ev.JobID, ev.RunID, func(r *Run) error {
		code := ev.ExitCode
		r.ExitCode, r.Reason = &code, cause
		if r.DateStarted == nil {
			t := ev.Time.UTC()
			r.DateStarted = &t
		}
		token, r.Token = r.Token, ""
		return nil
	})
	if err != nil {
		return err
	}
	if token == "" {
		s.log.InfoContext(ctx, "run event without a waiting task", "job", ev.JobID, "run", ev.RunID)
		return nil
	}
	if name == "" {
		out, _ := json.Marshal(map[string]int{"exitCode": 0})
		err = s.cfg.Orchestrator.SendTaskSuccess(ctx, token, out)
	} else {
		err = s.cfg.Orchestrator.SendTaskFailure(ctx, token, name, cause)
	}
	if errs.Is(err, errs.NotFound) {
		s.log.InfoContext(ctx, "run's task already answered", "job", ev.JobID, "run", ev.RunID)
		return nil
	}
	return err
}

// outcome names how a run ended: "" for success, else the error name the
// state machine matches and the reason.
func outcome(ev compute.Event) (name, cause string) {
	switch {
	case ev.Stopped != "":
		return ErrStopped, fmt.Sprintf("Run %s was stopped", ev.RunID)
	case ev.System:
		return ErrSystem, fmt.Sprintf("Run %s failed on the platform's side: %s", ev.RunID, ev.Reason)
	case ev.WalltimeExceeded:
		return ErrUserCommand, fmt.Sprintf("Run %s exceeded its walltime and was stopped", ev.RunID)
	case ev.ExitCode != 0 && strings.HasPrefix(ev.Reason, "killed by "):
		return ErrUserCommand, fmt.Sprintf("Run %s failed: the command was %s", ev.RunID, ev.Reason)
	case ev.ExitCode != 0:
		reason := fmt.Sprintf("Run %s failed: the command exited with code %d", ev.RunID, ev.ExitCode)
		if ev.Reason != "" {
			reason += " (" + ev.Reason + ")"
		}
		return ErrUserCommand, reason
	}
	return "", ""
}

// CollectOutputs registers the run's saved outputs as output files and
// ends the run's record with its result.
func (s *Service) CollectOutputs(ctx context.Context, ref Ref) (Collected, error) {
	j, err := s.job(ctx, ref)
	if err != nil {
		return Collected{}, err
	}
	run, err := s.getRun(ctx, j.OwnerID, j.ID, ref.Run)
	if err != nil {
		return Collected{}, systemErr(err)
	}
	prefix := outputPrefix(j.OwnerID, j.ID, run.ID)
	var got Collected
	err = s.cfg.Bucket.List(ctx, prefix, func(a blob.Attrs) error {
		if err := s.registerOutput(ctx, j, run, strings.TrimPrefix(a.Key, prefix), a); err != nil {
			return err
		}
		got.Files++
		got.Bytes += a.Size
		return nil
	})
	if err != nil {
		return Collected{}, systemErr(fmt.Errorf("collect outputs of run %s: %w", run.ID, err))
	}
	if err := s.removeOutputs(ctx, templatePrefix(j.OwnerID, j.ID, run.ID)); err != nil {
		return Collected{}, systemErr(err)
	}
	var failure Failure
	_ = json.Unmarshal(ref.Result, &failure)
	_, err = s.updateRun(ctx, j.OwnerID, j.ID, run.ID, func(r *Run) error {
		now := s.now().UTC()
		r.DateCompleted = &now
		r.OutputCount, r.OutputBytes = got.Files, &got.Bytes
		r.Token = ""
		switch failure.Error {
		case "":
			r.State = RunSucceeded
		case ErrStopped:
			r.State = RunStopped
			if r.Reason == "" {
				r.Reason = failure.Cause
			}
		default:
			r.State = RunFailed
			if r.Reason == "" || failure.Error != ErrUserCommand {
				r.Reason = failure.Cause
			}
		}
		return nil
	})
	if err != nil {
		return Collected{}, systemErr(err)
	}
	return got, nil
}

// registerOutput creates the file record of one output once (a retried
// collect finds it by its key).
func (s *Service) registerOutput(ctx context.Context, j jobs.Job, run Run, rel string, a blob.Attrs) error {
	if _, err := s.cfg.Files.ByKey(ctx, a.Key); err == nil {
		return nil
	} else if !errs.Is(err, errs.NotFound) {
		return err
	}
	md, sh := md5.New(), sha512.New()
	r, err := s.cfg.Bucket.NewRangeReader(ctx, a.Key, 0, -1)
	if err != nil {
		return fmt.Errorf("read output %s: %w", a.Key, err)
	}
	_, err = io.Copy(io.MultiWriter(md, sh), r)
	r.Close()
	if err != nil {
		return fmt.Errorf("hash output %s: %w", a.Key, err)
	}
	f := files.File{
		OwnerID: j.OwnerID, OwnerEmail: j.OwnerEmail, Name: path.Base(rel), TypeID: files.TypeOutput,
		DateUploaded: s.now().UTC(), RelativePath: rel, Key: a.Key, Size: a.Size,
		MD5: hex.EncodeToString(md.Sum(nil)), SHA512: hex.EncodeToString(sh.Sum(nil)),
		IsUploaded: true, FolderID: run.FolderID, JobID: j.ID, Tags: []files.Tag{}, SharedWith: []string{},
	}
	_, err = ids.NewUnique(ctx, func(ctx context.Context, id string) error {
		f.ID = id
		_, cerr := s.cfg.Files.Create(ctx, f)
		return cerr
	})
	if errs.Is(err, errs.Conflict) {
		// The key's record was written meanwhile (a concurrent retry).
		if _, gerr := s.cfg.Files.ByKey(ctx, a.Key); gerr == nil {
			return nil
		}
	}
	return err
}

// Finish ends the job: its keys stop working, then it is Completed with
// the reason.
func (s *Service) Finish(ctx context.Context, ref Ref) (Final, error) {
	j, err := s.job(ctx, ref)
	if err != nil {
		return Final{}, err
	}
	rec, err := s.getRecord(ctx, j.OwnerID, j.ID)
	if err != nil {
		return Final{}, systemErr(err)
	}
	if j.Status == jobs.StatusCompleted {
		return Final{Failed: rec.Failed, Reason: rec.Reason}, nil
	}
	final, err := s.outcomeOf(ctx, j, rec, ref.Failure)
	if err != nil {
		return Final{}, systemErr(err)
	}
	if err := s.cfg.Keys.ExpireJobKeys(ctx, j.OwnerID, j.ID); err != nil {
		return Final{}, systemErr(err)
	}
	_, _, err = s.apply(ctx, j.OwnerID, j.ID, change{to: jobs.StatusCompleted, reason: final.Reason, edit: func(_ jobs.Job, r *Record) error {
		r.Failed = final.Failed
		return nil
	}})
	if err != nil {
		return Final{}, systemErr(err)
	}
	return final, nil
}

func stopReason(m compute.StopMode) string {
	switch m {
	case compute.Force:
		return "Job was force stopped by the user"
	case compute.Discard:
		return "Job was shut down by the user; its outputs were discarded"
	}
	return "Job was stopped by the user"
}

func (s *Service) outcomeOf(ctx context.Context, j jobs.Job, rec Record, failure *Failure) (Final, error) {
	if rec.Stop != "" {
		return Final{Reason: stopReason(rec.Stop)}, nil
	}
	if failure != nil && failure.Error != "" {
		switch failure.Error {
		case ErrInvalid:
			return Final{Failed: true, Reason: "Validation failed: " + failure.Cause}, nil
		case ErrStopped:
			return Final{Reason: stopReason(compute.Graceful)}, nil
		case "States.Timeout":
			return Final{Failed: true, Reason: "Job failed: a lifecycle step timed out"}, nil
		}
		return Final{Failed: true, Reason: "Job failed: " + failure.Cause}, nil
	}
	runs, _, err := s.listRuns(ctx, j.OwnerID, j.ID, 0, 0)
	if err != nil {
		return Final{}, err
	}
	failed := 0
	var first string
	for _, r := range runs {
		if r.State != RunSucceeded {
			failed++
			if first == "" {
				first = r.Reason
			}
		}
	}
	switch {
	case failed == 0:
		return Final{Reason: "Completed successfully"}, nil
	case len(runs) == 1:
		return Final{Failed: true, Reason: first}, nil
	}
	return Final{Failed: true, Reason: fmt.Sprintf("%d of %d runs failed; %s", failed, len(runs), first)}, nil
}

// TearDown stops the job's cluster and releases its capacity.
func (s *Service) TearDown(ctx context.Context, ref Ref) error {
	if err := s.cfg.Compute.Release(ctx, ref.JobID); err != nil {
		return systemErr(err)
	}
	_, _, err := s.apply(ctx, ref.OwnerID, ref.JobID, change{edit: func(_ jobs.Job, r *Record) error {
		if r.Started {
			s.clusterStatus(r, "Stop Requested")
			s.clusterStatus(r, "Stopping")
			s.clusterStatus(r, "Stopped")
		}
		return nil
	}})
	if errs.Is(err, errs.NotFound) {
		return nil
	}
	if err != nil {
		return systemErr(err)
	}
	return nil
}
