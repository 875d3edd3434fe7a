// Package agentspec is the contract between the AWS Batch compute adapter
// (shared/compute/awsbatch), which starts a run as a Batch job, and the job
// agent (cmd/agent), the container's entry point that performs it: what the
// agent is told (Spec, in the RESCALE_AGENT_SPEC environment variable) and
// what its exit code means (the Exit* constants). It depends on the standard library alone, so
// both sides import it without pulling in the other.
//
// The spec travels inline in the Batch job's container environment
// (containerOverrides, or every node's nodePropertyOverrides for a
// multi-node job) because Batch offers no other per-job channel into the
// container: a job definition's secrets are fixed at registration. Two
// consequences:
//
//   - It is visible to whoever may call batch:DescribeJobs in the account
//     and to the targets of the "Batch Job State Change" rule, whose detail
//     carries the container's environment. It holds the run's job-scoped API
//     key (Env["RESCALE_API_KEY"]), which the lifecycle expires when the job
//     finishes; no other secret belongs in it.
//   - Batch caps a SubmitJob request at 30 KiB, so Encode refuses specs
//     above MaxEncodedBytes (a job with thousands of input files).
//
// Example (a single-node run; multi-line for reading, Encode writes one line):
//
//	{"version":1,"jobId":"AbCdE","runId":"1","ownerId":"uOwner",
//	 "analysis":"openfoam","analysisVersion":"v1912-openmpi","coreType":"emerald",
//	 "cores":4,"nodes":1,"coresPerNode":4,"storageBytes":0,
//	 "bucket":"rescale-data","outputPrefix":"user/user_uOwner/output/job_AbCdE/run1/",
//	 "inputs":[{"name":"airFoil2D.tar.gz","key":"user/user_uOwner/airFoil2D.tar.gz-k3y"}],
//	 "command":"./Allrun","preCommand":"","postCommand":"","useMpi":false,
//	 "walltimeSeconds":7200,"include":["*.log"],"exclude":null,
//	 "env":{"RESCALE_API_KEY":"…","RESCALE_JOB_ID":"AbCdE", …}}
package agentspec

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// EnvVar is the container environment variable holding the encoded Spec.
const EnvVar = "RESCALE_AGENT_SPEC"

// Version is the spec format this package writes and reads. A change that
// an older agent would misread gets a new version; adding an optional field
// does not.
const Version = 1

// MaxEncodedBytes bounds an encoded spec: Batch's SubmitJob payload limit
// is 30 KiB, and the rest of the request (name, queue, definition,
// parameters, tags, resource overrides) needs room too.
const MaxEncodedBytes = 26 * 1024

// Exit codes of the agent. The agent exits with the command's own exit
// code when the command ran to its end (0–255, as the shell reports it;
// 128+n for a command killed by signal n), and with one of these when it
// did not, since an exit code is the only thing a container can report
// through Batch's job state change events. A user command that itself
// exits with one of these codes is misread; they are chosen from the top
// of the range, which shells and common tools do not use.
const (
	// ExitSystem: the platform failed the run (inputs could not be
	// downloaded, the sandbox or software could not be set up, the disk
	// filled up, outputs could not be uploaded). The run is retried.
	ExitSystem = 250
	// ExitWalltime: the command was stopped at its walltime.
	ExitWalltime = 251
	// ExitInputs: the user's inputs could not be staged (an archive with
	// unsafe paths). Not retried.
	ExitInputs = 252
)

// Input is one file to stage into the working directory before the
// command runs: the object Key in Bucket, saved as Name (archives are
// unpacked, as the local executor does).
type Input struct {
	Name string `json:"name"`
	Key  string `json:"key"`
	// Executable inputs get their execute bits after staging (rendered
	// templates a command may run), as compute.File.Executable.
	Executable bool `json:"executable,omitempty"`
}

// Spec is one run as the agent performs it: the same fields as the local
// executor's compute.Run, flattened to JSON.
type Spec struct {
	Version int    `json:"version"`
	JobID   string `json:"jobId"`
	RunID   string `json:"runId"`
	OwnerID string `json:"ownerId"`

	Analysis        string `json:"analysis"`        // analysis code, "user_included"
	AnalysisVersion string `json:"analysisVersion"` // its versionCode
	CoreType        string `json:"coreType"`
	// Cores is the job's total (slots × coresPerSlot); Nodes × CoresPerNode
	// may be more. A multi-node (MPI) run has Nodes > 1: every node runs
	// the agent with the same spec, and AWS Batch's AWS_BATCH_JOB_NODE_INDEX
	// and AWS_BATCH_JOB_MAIN_NODE_INDEX say which one is the main node,
	// which runs the command.
	Cores        int   `json:"cores"`
	Nodes        int   `json:"nodes"`
	CoresPerNode int   `json:"coresPerNode"`
	StorageBytes int64 `json:"storageBytes"`

	// Bucket holds the inputs and receives the outputs, written under
	// OutputPrefix (user/user_<uid>/output/job_<jid>/run<n>/), including
	// process_output.log, which the agent uploads while the command runs.
	Bucket       string  `json:"bucket"`
	OutputPrefix string  `json:"outputPrefix"`
	Inputs       []Input `json:"inputs"`

	// Command, PreCommand and PostCommand are bash scripts with the
	// templates already filled (<mpi-ranks>, <input-file>, …).
	Command     string `json:"command"`
	PreCommand  string `json:"preCommand"`
	PostCommand string `json:"postCommand"`
	UseMPI      bool   `json:"useMpi"`
	// WalltimeSeconds bounds the command; 0 is none.
	WalltimeSeconds int64 `json:"walltimeSeconds"`
	// Include and Exclude are the output filters (globs of relative
	// paths): with Include set only matching outputs are kept.
	Include []string `json:"include"`
	Exclude []string `json:"exclude"`
	// Env is the command's environment: the job's own variables and the
	// RESCALE_* ones (RESCALE_API_URL, RESCALE_API_KEY, RESCALE_JOB_ID, …).
	Env map[string]string `json:"env"`
}

// Encode checks the spec and returns it as the value of EnvVar.
func (s Spec) Encode() (string, error) {
	if s.Version == 0 {
		s.Version = Version
	}
	if err := s.check(); err != nil {
		return "", err
	}
	b, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("agentspec: encode: %w", err)
	}
	if len(b) > MaxEncodedBytes {
		return "", &TooLargeError{Bytes: len(b), Inputs: len(s.Inputs)}
	}
	return string(b), nil
}

// TooLargeError is a spec over MaxEncodedBytes.
type TooLargeError struct {
	Bytes, Inputs int
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("the run's specification is %d bytes (%d input files); AWS Batch accepts at most %d",
		e.Bytes, e.Inputs, MaxEncodedBytes)
}

// Decode parses the value of EnvVar.
func Decode(v string) (Spec, error) {
	if strings.TrimSpace(v) == "" {
		return Spec{}, errors.New("agentspec: " + EnvVar + " is empty")
	}
	var s Spec
	if err := json.Unmarshal([]byte(v), &s); err != nil {
		return Spec{}, fmt.Errorf("agentspec: decode %s: %w", EnvVar, err)
	}
	if s.Version != Version {
		return Spec{}, fmt.Errorf("agentspec: spec version %d, this agent reads version %d", s.Version, Version)
	}
	if err := s.check(); err != nil {
		return Spec{}, err
	}
	return s, nil
}

// FromEnv decodes the spec from the environment, as the agent starts:
// agentspec.FromEnv(os.Getenv).
func FromEnv(getenv func(string) string) (Spec, error) {
	return Decode(getenv(EnvVar))
}

func (s Spec) check() error {
	var missing []string
	for name, v := range map[string]string{"jobId": s.JobID, "runId": s.RunID, "ownerId": s.OwnerID,
		"outputPrefix": s.OutputPrefix, "bucket": s.Bucket} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("agentspec: missing %s", strings.Join(missing, ", "))
	}
	if !strings.HasSuffix(s.OutputPrefix, "/") {
		return fmt.Errorf("agentspec: outputPrefix %q does not end in /", s.OutputPrefix)
	}
	if s.Nodes < 1 {
		return fmt.Errorf("agentspec: nodes is %d", s.Nodes)
	}
	for _, in := range s.Inputs {
		if in.Name == "" || in.Key == "" {
			return fmt.Errorf("agentspec: input %+v lacks a name or key", in)
		}
	}
	return nil
}
