// Package worker performs one run of an HPC job on one machine: stage the
// inputs into a working directory, run the job's commands in a sandbox with
// the analysis software's environment, stream their output to a log,
// enforce the walltime, stop on request, and collect the outputs.
//
// It has two callers, the local executor (rescale-local runs jobs as real
// processes on its own machine) and the AWS Batch container agent, so it
// knows nothing of HTTP, the store, job records or the deployment it runs
// in: inputs come in through Input.Open, outputs leave through Collect's put
// function, and everything deployment-specific (software environments,
// sandbox binary, extra read-only paths) is passed in.
//
// # API
//
//	Stage(ctx, dir, []Input) (Staged, error)      inputs into dir; archives unpacked
//	Software{EnvScript, Requires, Env, OpenFOAM}  how an analysis version runs here
//	(Software).Check(ctx) error                   fail early: required binaries after sourcing
//	ExpandCommand(cmd, Placeholders) string       <mpi-ranks>, <smp-ranks>, <input-file>…
//	Start(ctx, Spec) (*Process, error)            pre-command, command, post-command
//	(*Process).Stop(StopMode)                     Graceful, Force, Kill; any time, repeatable
//	(*Process).Wait() Result                      exit code, signal, stop, walltime, system error
//	(*Process).Pid() int
//	Collect(ctx, dir, Filter, put) (n, bytes, err)  outputs, in path order
//	Snapshot(ctx, dir, w) error                   zip of the live working directory
//	ListDir(dir, rel) ([]Entry, error)            live listing
//	Tail(dir, rel, lines, w) error                live tail
//	CheckDisk(dir, need) error                    storagePerNode
//	Sandbox: Bubblewrap{...}, None{}
//
// # Runs
//
// A Spec's three commands (PreCommand, Command, PostCommand) each run as a
// separate `bash -c` in a fresh sandbox with the same environment: the
// software's EnvScript is sourced first, then the working directory is the
// current directory. A phase that fails (non-zero exit, signal, system error)
// or a stop ends the run: the command does not run after a failed
// pre-command and the post-command runs only after a successful command.
// Result.Phase names the phase the result is about.
//
// Every phase's process is the leader of its own session and process group,
// so a stop reaches the whole tree, and whatever is left of the group when
// its leader exits is killed: a run leaves no processes behind. (Inside
// bubblewrap, the pid namespace also takes down processes that left the
// group; without a sandbox, a process that calls setsid itself escapes.)
// A graceful stop waits up to Grace for the group's leader (the job's
// shell) to exit; before the command has begun (sandbox and env script
// setup) it kills at once, as there is nothing to be graceful with.
//
// Output: stdout and stderr of every phase go straight into the file
// Spec.Log, opened in append mode and handed to the child as its file
// descriptors, so no output passes through this process's memory and the
// log can be read (Tail) while the run runs.
//
// Result.Err is a system failure (the sandbox could not be set up, bash
// could not be executed, the software's required binaries were missing after
// sourcing its environment, a phase failed on a full file system): distinct
// from a command's non-zero exit, which is Result.ExitCode with Err nil.
// Why setup failed is also appended to the log, for the user.
//
// # Environment
//
// The job sees only: PATH (a fixed system PATH), HOME and TMPDIR (run-private
// directories outside the working directory, removed after the run), LANG,
// the MPI variables below, Software.Env and Spec.Env, in increasing order
// of precedence; nothing of this process's own environment. The software's
// EnvScript may then change anything.
//
// MPI: when Spec.UseMPI, Open MPI is told it may run as root
// (OMPI_ALLOW_RUN_AS_ROOT, OMPI_ALLOW_RUN_AS_ROOT_CONFIRM), to launch on this
// machine only (OMPI_MCA_plm=isolated: no ssh needed), not to bind ranks to
// cores (other jobs share the machine, and every job would bind its rank 0
// to core 0), and not to use cross-memory attach (needs ptrace rights a
// sandbox without capabilities lacks). When Cores > 1 it also writes a
// hostfile "localhost slots=<Cores>", named by OMPI_MCA_orte_default_hostfile
// and RESCALE_MPI_HOSTFILE, so a plain `mpirun -np <Cores> app` works.
//
// # OpenFOAM
//
// OpenFOAM tutorials' Allrun scripts source
// $WM_PROJECT_DIR/bin/tools/RunFunctions, which Debian's package does not
// ship. With Software.OpenFOAM, if that file is missing after sourcing the
// env script, the run's WM_PROJECT_DIR is repointed to a run-private
// overlay directory outside the working directory: symlinks to every entry
// of the real project directory (OpenFOAM reads $WM_PROJECT_DIR/etc) plus
// bin/tools/RunFunctions, this package's own POSIX-sh implementation
// (runfunctions.sh) of runApplication, runParallel, getApplication,
// getNumberOfProcessors, restore0Dir, cloneCase, cloneParallelCase,
// compileApplication, isParallel and isTest. The overlay is built by the
// run's own shell right after sourcing, so it points at whatever project
// directory the env script chose, and works with and without a sandbox.
//
// # Outputs
//
// Everything in the working directory after the run is an output (unpacked
// inputs, new files, the log), except the staged archives and what the
// Filter leaves out. See Filter for the pattern semantics.
package worker
