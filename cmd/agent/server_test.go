package main

import (
	"bufio"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/openrescale/platform/shared/worker"
	"github.com/openrescale/platform/shared/worker/workertest"
)

// startLocalServer runs a real rescale-local (built into dir) with key as
// its default user's API key, and returns its base URL.
func startLocalServer(t *testing.T, key string) string {
	t.Helper()
	bin := filepath.Join(filepath.Dir(binary), "rescale-local")
	if _, err := os.Stat(bin); err != nil {
		build := exec.Command("go", "build", "-o", bin, "../rescale-local")
		build.Stderr = os.Stderr
		if err := build.Run(); err != nil {
			t.Fatalf("build rescale-local: %v", err)
		}
	}
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--sandbox", "none")
	cmd.Env = append(os.Environ(), "RESCALE_LOCAL_API_KEY="+key)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	listening := regexp.MustCompile(`listening on (http://\S+)`)
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				urlc <- m[1]
			}
		}
	}()
	select {
	case url := <-urlc:
		waitFor(t, "the server's health", func() bool {
			resp, err := http.Get(url + "/healthz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == 200
		})
		return url
	case <-time.After(60 * time.Second): // a hang, not a duration check
		t.Fatal("rescale-local did not start")
	}
	return ""
}

// tutorialWithAPI is the tutorial's Allrun as tests/e2e runs it: it also
// calls the platform's API with the job's RESCALE_API_KEY.
const tutorialWithAPI = `#!/bin/bash
cd "${0%/*}" || exit 1
echo "hello from job $RESCALE_JOB_ID run $RESCALE_RUN_ID on $RESCALE_TOTAL_CORES cores"
mkdir -p results
echo 42 > results/answer.txt
curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Token $RESCALE_API_KEY" "${RESCALE_API_URL}jobs/" > ../key_status.txt
echo done
`

// TestTutorialAgainstLocalServer runs the tutorial's job with the agent
// binary against a real rescale-local's API (the job calls it with its
// key) and a gofakes3 bucket, and compares its outputs with the local
// executor's for the same run.
func TestTutorialAgainstLocalServer(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("SKIPPING: curl not installed")
	}
	const key = "rsk_agent_test_0123456789abcdef"
	url := startLocalServer(t, key)
	c := workertest.Case{
		Name:    "tutorial calling the API",
		Zips:    map[string]map[string]string{"airfoil2d.zip": {"airFoil2D/Allrun": tutorialWithAPI, "airFoil2D/system/controlDict": "application simpleFoam;\n"}},
		Command: "./airFoil2D/Allrun",
		Env:     map[string]string{"RESCALE_API_URL": url + "/api/v2/", "RESCALE_API_KEY": key},
		Outcome: workertest.Exited,
		Outputs: map[string]string{
			"airFoil2D/results/answer.txt": "42\n",
			"key_status.txt":               "200",
			"process_output.log":           "hello from job " + workertest.JobID + " run 1 on 1 cores\ndone\n",
		},
	}
	got := runner("none")(t, c)
	workertest.Check(t, c, got)
	workertest.Same(t, c, workertest.Local(worker.None{}, nil)(t, c), got)
}
