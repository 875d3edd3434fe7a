package workertest

import (
	"testing"
	"time"
)

// tutorialAllrun is spec 001's tutorial job as a script: what the user's
// zip holds, run as ./airFoil2D/Allrun.
const tutorialAllrun = `#!/bin/bash
cd "${0%/*}" || exit 1
echo "hello from job $RESCALE_JOB_ID run $RESCALE_RUN_ID on $RESCALE_TOTAL_CORES cores"
mkdir -p results
echo 42 > results/answer.txt
for i in 1 2 3; do echo "line $i"; done
echo done
`

// airFoil2D is the tutorial's real OpenFOAM case, from Debian's
// openfoam-examples.
const airFoil2D = "/usr/share/doc/openfoam-examples/examples/incompressible/simpleFoam/airFoil2D"

// Cases is the table.
func Cases() []Case {
	return []Case{
		{
			Name:    "tutorial",
			Zips:    map[string]map[string]string{"airfoil2d.zip": {"airFoil2D/Allrun": tutorialAllrun, "airFoil2D/system/controlDict": "application simpleFoam;\n"}},
			Command: "./airFoil2D/Allrun",
			Outcome: Exited,
			Outputs: map[string]string{
				"airFoil2D/results/answer.txt": "42\n",
				"airFoil2D/Allrun":             tutorialAllrun,
				"airFoil2D/system/controlDict": "application simpleFoam;\n",
				"process_output.log":           "hello from job " + JobID + " run " + RunID + " on 1 cores\nline 1\nline 2\nline 3\ndone\n",
			},
			Absent: []string{"airfoil2d.zip"},
		},
		{
			Name:     "failing command keeps its outputs",
			Zips:     map[string]map[string]string{"in.zip": {"run.sh": "#!/bin/bash\necho partial > partial.txt\necho failing\nexit 3\n"}},
			Command:  "./run.sh",
			Outcome:  Exited,
			ExitCode: 3,
			Outputs:  map[string]string{"partial.txt": "partial\n", "process_output.log": "failing\n"},
		},
		{
			Name:    "filters choose the outputs",
			Inputs:  map[string]string{"data.txt": "input\n"},
			Command: "mkdir -p out; echo a > out/a.txt; echo b > out/b.log; echo s > secret.txt; echo logged",
			Include: []string{"*.txt"}, Exclude: []string{"secret*"},
			Outcome: Exited,
			Outputs: map[string]string{"out/a.txt": "a\n", "data.txt": "input\n"},
			Absent:  []string{"out/b.log", "secret.txt", "process_output.log"},
		},
		{
			Name:        "pre, command and post share the directory and environment",
			Inputs:      map[string]string{"n.txt": "7\n"},
			PreCommand:  `echo "pre $GREETING" > steps.txt`,
			Command:     `echo "command $(cat n.txt)" >> steps.txt`,
			PostCommand: `echo post >> steps.txt; echo "$RESCALE_JOB_ID"`,
			Env:         map[string]string{"GREETING": "hello"},
			Outcome:     Exited,
			Outputs:     map[string]string{"steps.txt": "pre hello\ncommand 7\npost\n", "process_output.log": JobID + "\n"},
		},
		{
			Name:       "rendered templates are executable",
			Inputs:     map[string]string{"run.sh": "#!/bin/sh\necho templated > rendered.txt\n"},
			Executable: []string{"run.sh"},
			Command:    "./run.sh",
			Outcome:    Exited,
			Outputs:    map[string]string{"rendered.txt": "templated\n"},
		},
		{
			Name:     "walltime stops the command",
			Command:  "echo begun > begun.txt; sleep 60",
			Walltime: time.Second,
			Outcome:  Walltime,
			Outputs:  map[string]string{"begun.txt": "begun\n"},
		},
		{
			Name:    "an archive escaping the directory is the user's fault",
			Zips:    map[string]map[string]string{"bad.zip": {"../escape.txt": "x"}},
			Command: "echo must not run",
			Outcome: Inputs,
			Absent:  []string{"escape.txt", "bad.zip"},
		},
		{
			Name: "openfoam airFoil2D",
			Need: func(t *testing.T) {
				need("openfoam and openfoam-examples", "/usr/share/openfoam/etc/bashrc", "/usr/bin/simpleFoam", airFoil2D)(t)
			},
			Dirs:     map[string]string{"airFoil2D.zip": airFoil2D},
			Analysis: "openfoam", Version: "v1912-openmpi",
			Command: "./airFoil2D/Allrun",
			Outcome: Exited,
			Contains: map[string]string{
				"airFoil2D/log.simpleFoam": "SIMPLE solution converged in 313 iterations",
				"airFoil2D/313/U":          "volVectorField",
			},
			// Solver logs carry dates, hosts, process ids and timings.
			Varying: []string{"log.*", "process_output.log"},
			Slow:    true,
		},
	}
}

// Run checks every case on one caller.
func Run(t *testing.T, run Runner) {
	for _, c := range Cases() {
		t.Run(c.Name, func(t *testing.T) {
			if c.Need != nil {
				c.Need(t)
			}
			Check(t, c, run(t, c))
		})
	}
}
