package localexec_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/openrescale/platform/shared/blob"
	"github.com/openrescale/platform/shared/blob/fileblob"
	"github.com/openrescale/platform/shared/compute"
	"github.com/openrescale/platform/shared/compute/computetest"
	"github.com/openrescale/platform/shared/compute/localexec"
	"github.com/openrescale/platform/shared/worker"
	"github.com/openrescale/platform/shared/worker/workertest"
)

func harness(sandbox func(t *testing.T) worker.Sandbox) computetest.Harness {
	return func(t *testing.T, cores int, sink compute.Sink) (compute.Compute, blob.Bucket) {
		dir := t.TempDir()
		b, err := fileblob.New(filepath.Join(dir, "blobs"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		ex, err := localexec.New(localexec.Config{Root: filepath.Join(dir, "runs"), Cores: cores, Sandbox: sandbox(t),
			Bucket: b, Sink: sink, Grace: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ex.Close() })
		return ex, b
	}
}

func TestContract(t *testing.T) {
	t.Run("none", func(t *testing.T) {
		computetest.Run(t, harness(func(*testing.T) worker.Sandbox { return worker.None{} }))
	})
	t.Run("bubblewrap", func(t *testing.T) {
		computetest.Run(t, harness(func(t *testing.T) worker.Sandbox {
			p, err := exec.LookPath("bwrap")
			if err != nil {
				if os.Getenv("REQUIRE_TEST_SERVERS") != "" {
					t.Fatalf("bubblewrap is required: %v", err)
				}
				t.Skip("SKIP: bwrap not installed")
			}
			return worker.Bubblewrap{Path: p}
		}))
	})
}

// TestRelativeRoot: the default data directory is "./data"; runs under a
// relative root must start like any other.
func TestRelativeRoot(t *testing.T) {
	t.Chdir(t.TempDir())
	computetest.Run(t, func(t *testing.T, cores int, sink compute.Sink) (compute.Compute, blob.Bucket) {
		b, err := fileblob.New("blobs")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		ex, err := localexec.New(localexec.Config{Root: filepath.Join("data", "runs"), Cores: cores, Sandbox: worker.None{},
			Bucket: b, Sink: sink, Grace: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ex.Close() })
		return ex, b
	})
}

// TestCases runs the table the job agent also runs (cmd/agent): the same
// runs must produce the same outputs on both.
func TestCases(t *testing.T) {
	sw := worker.SoftwareMap{"openfoam": {"v1912-openmpi": {EnvScript: "/usr/share/openfoam/etc/bashrc", Requires: []string{"simpleFoam"}, OpenFOAM: true}}}
	t.Run("none", func(t *testing.T) {
		workertest.Run(t, workertest.Local(worker.None{}, sw))
	})
	t.Run("bubblewrap", func(t *testing.T) {
		p, err := exec.LookPath("bwrap")
		if err != nil {
			if os.Getenv("REQUIRE_TEST_SERVERS") != "" {
				t.Fatalf("bubblewrap is required: %v", err)
			}
			t.Skip("SKIP: bwrap not installed")
		}
		workertest.Run(t, workertest.Local(worker.Bubblewrap{Path: p}, sw))
	})
}
