// Command agent is the AWS Batch container's entry point: it performs one
// run of a job, described by agentspec.Spec in RESCALE_AGENT_SPEC, with
// the same code as the local executor (shared/worker.Execute): it stages
// the inputs from S3 (unpacking archives), runs the pre-command, command
// and post-command in a sandbox with the analysis's environment, uploads
// process_output.log to S3 while the command runs (so the tail endpoint
// shows progress), uploads the outputs under the spec's output prefix
// (respecting its include and exclude filters), and exits with the
// command's exit code, or agentspec.ExitSystem, ExitWalltime or ExitInputs.
//
// SIGTERM (TerminateJob, through ECS) stops the command as a graceful stop
// does and uploads the outputs before exiting. A multi-node (MPI) job runs
// the agent on every node: the main node (AWS_BATCH_JOB_NODE_INDEX equal to
// AWS_BATCH_JOB_MAIN_NODE_INDEX) runs the command with RESCALE_NODE_COUNT
// set, and the others wait to be ended with the job. Ranks do not yet
// reach the other nodes: the worker's hostfile lists the main node's own
// cores (a node learns only the main node's address from Batch, so the
// others would first have to report theirs), and Open MPI is told to
// launch locally (no ssh in the images).
//
// The container's exit code is all Batch reports of the run, so why a run
// failed before its command could start (inputs, software, disk) is
// written to process_output.log, which is uploaded alone; the agent's own
// log (JSON lines on stderr) goes to the job log group.
//
// Environment, besides the spec:
//
//	RESCALE_AGENT_S3_CREDENTIALS  api (default): S3 credentials from the platform's
//	                              POST credentials/ with the job's RESCALE_API_KEY,
//	                              limited to the run's inputs and output prefix;
//	                              environment: the SDK's default chain (tests,
//	                              or a job role that may read the bucket)
//	AWS_ENDPOINT_URL_S3           an S3-protocol server instead of S3 (the SDK's own variable)
//	AWS_REGION                    the bucket's region
//	RESCALE_AGENT_SANDBOX         auto (default: bubblewrap when installed), bwrap or none
//	RESCALE_AGENT_SOFTWARE        JSON file: how analysis versions run in this image
//	                              (rescale-local's --software format); default:
//	                              Debian's OpenFOAM when installed
//	RESCALE_AGENT_ROOT            where run directories are made (default: the temporary directory)
//	RESCALE_AGENT_LOG_INTERVAL    process_output.log upload interval (default 10s)
//	RESCALE_AGENT_GRACE           graceful stop's SIGTERM → SIGKILL wait (default 15s)
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/openrescale/platform/shared/blob/s3blob"
	"github.com/openrescale/platform/shared/compute/agentspec"
	"github.com/openrescale/platform/shared/worker"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	term := make(chan struct{})
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sig
		close(term)
	}()
	ctx := context.Background()
	cfg, err := configure(ctx, os.Getenv, log)
	if err != nil {
		log.Error("agent: configuration", "err", err)
		os.Exit(agentspec.ExitSystem)
	}
	os.Exit(New(cfg).Run(ctx, term))
}

// configure reads the environment once.
func configure(ctx context.Context, getenv func(string) string, log *slog.Logger) (Config, error) {
	spec, err := agentspec.FromEnv(getenv)
	if err != nil {
		return Config{}, err
	}
	node, err := nodeOf(getenv)
	if err != nil {
		return Config{}, err
	}
	sw, err := worker.LoadSoftwareMap(getenv("RESCALE_AGENT_SOFTWARE"))
	if err != nil {
		return Config{}, err
	}
	sandbox, err := sandboxFor(getenv("RESCALE_AGENT_SANDBOX"))
	if err != nil {
		return Config{}, err
	}
	interval, err := duration(getenv, "RESCALE_AGENT_LOG_INTERVAL", 10*time.Second)
	if err != nil {
		return Config{}, err
	}
	grace, err := duration(getenv, "RESCALE_AGENT_GRACE", 15*time.Second)
	if err != nil {
		return Config{}, err
	}
	root := getenv("RESCALE_AGENT_ROOT")
	if root == "" {
		root = os.TempDir()
	}
	client, err := s3Client(ctx, getenv, spec)
	if err != nil {
		return Config{}, err
	}
	return Config{Spec: spec, Bucket: s3blob.New(client, spec.Bucket), Software: sw, Sandbox: sandbox,
		Root: root, LogInterval: interval, Grace: grace, Node: node, Log: log}, nil
}

func nodeOf(getenv func(string) string) (Node, error) {
	n := Node{Count: 1}
	for _, f := range []struct {
		name string
		v    *int
	}{
		{"AWS_BATCH_JOB_NODE_INDEX", &n.Index}, {"AWS_BATCH_JOB_MAIN_NODE_INDEX", &n.Main}, {"AWS_BATCH_JOB_NUM_NODES", &n.Count},
	} {
		if s := getenv(f.name); s != "" {
			v, err := strconv.Atoi(s)
			if err != nil || v < 0 {
				return Node{}, fmt.Errorf("%s=%q is not a node number", f.name, s)
			}
			*f.v = v
		}
	}
	n.MainAddress = getenv("AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS")
	return n, nil
}

func duration(getenv func(string) string, name string, def time.Duration) (time.Duration, error) {
	s := getenv(name)
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s=%q is not a positive duration", name, s)
	}
	return d, nil
}

// sandboxFor: bubblewrap when installed, unless told otherwise. In a
// container it also needs user namespaces (or CAP_SYS_ADMIN): an image
// whose hosts refuse them sets RESCALE_AGENT_SANDBOX=none, and the
// container itself is then the job's isolation.
func sandboxFor(name string) (worker.Sandbox, error) {
	switch name {
	case "", "auto":
		if p, err := exec.LookPath("bwrap"); err == nil {
			return worker.Bubblewrap{Path: p}, nil
		}
		return worker.None{}, nil
	case "bwrap":
		p, err := exec.LookPath("bwrap")
		if err != nil {
			return nil, errors.New("RESCALE_AGENT_SANDBOX=bwrap and bwrap is not installed in the image")
		}
		return worker.Bubblewrap{Path: p}, nil
	case "none":
		return worker.None{}, nil
	}
	return nil, fmt.Errorf("RESCALE_AGENT_SANDBOX must be auto, bwrap or none, not %q", name)
}
