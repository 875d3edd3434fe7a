package worker

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// zipDir zips the tree at src under the prefix name/, modes kept.
func zipDir(t *testing.T, src, name string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		h, err := zip.FileInfoHeader(fi)
		if err != nil {
			return err
		}
		h.Name = filepath.ToSlash(filepath.Join(name, rel))
		if d.IsDir() {
			h.Name += "/"
			_, err = zw.CreateHeader(h)
			return err
		}
		h.Method = zip.Deflate
		w, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(w, f)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func openFOAM() *Software {
	return &Software{EnvScript: openFOAMBashrc, Requires: []string{"simpleFoam", "foamDictionary"}, OpenFOAM: true}
}

// TestOpenFOAMAirFoil2D runs the real tutorial, as a user would submit it
// (a zip holding airFoil2D/, command ./airFoil2D/Allrun), in bubblewrap
// with Debian's OpenFOAM: the only slow test (about 5-10 s).
func TestOpenFOAMAirFoil2D(t *testing.T) {
	needOpenFOAM(t)
	sb := needBwrap(t)
	dir, scratch := workDir(t)
	ctx := context.Background()
	st, err := Stage(ctx, dir, []Input{bytesInput("airFoil2D.zip", zipDir(t, airFoil2D, "airFoil2D"))})
	if err != nil {
		t.Fatal(err)
	}
	if err := openFOAM().Check(ctx); err != nil {
		t.Fatalf("Check: %v", err)
	}
	log := filepath.Join(dir, "process_output.log")
	r := run(t, Spec{Dir: dir, Scratch: scratch, Log: log, Sandbox: sb, Software: openFOAM(), Cores: 1,
		Command: "./airFoil2D/Allrun"})
	if r.Err != nil || r.ExitCode != 0 {
		t.Fatalf("result %+v\nprocess_output.log:\n%s", r, readFile(t, log))
	}
	if out := readFile(t, log); !strings.Contains(out, "Running simpleFoam on "+dir+"/airFoil2D") {
		t.Errorf("process_output.log = %q", out)
	}
	solver := readFile(t, filepath.Join(dir, "airFoil2D/log.simpleFoam"))
	if !strings.Contains(solver, "SIMPLE solution converged in 313 iterations") {
		t.Errorf("log.simpleFoam does not say it converged in 313 iterations; its end:\n%s", solver[max(0, len(solver)-2000):])
	}
	if !exists(filepath.Join(dir, "airFoil2D/313/U")) {
		t.Errorf("airFoil2D/313/U missing")
	}

	var got []string
	if _, _, err := Collect(ctx, dir, Filter{Skip: st.Archives}, func(_ context.Context, rel string, _ int64, r io.Reader) error {
		got = append(got, rel)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"airFoil2D/log.simpleFoam", "airFoil2D/313/U", "airFoil2D/system/fvSchemes", "airFoil2D/Allrun", "process_output.log"} {
		if !slices.Contains(got, want) {
			t.Errorf("Collect lacks %s", want)
		}
	}
	if slices.Contains(got, "airFoil2D.zip") {
		t.Errorf("Collect lists the staged archive")
	}
}

// TestRunFunctions checks this package's RunFunctions without OpenFOAM: a
// dash Allrun sources it from $WM_PROJECT_DIR, which the run points at its
// overlay since no installation provides one.
func TestRunFunctions(t *testing.T) {
	for sbName, sb := range sandboxes(t) {
		t.Run(sbName, func(t *testing.T) {
			dir, scratch := workDir(t)
			files := map[string]string{
				"case/system/controlDict":      "FoamFile { object controlDict; }\napplication     myApp;\nendTime 10;\n",
				"case/system/decomposeParDict": "numberOfSubdomains 4;\nmethod scotch;\n",
				"case/0.orig/U":                "u\n",
				"case/app.sh":                  "#!/bin/sh\necho \"app $*\"\n",
				"case/fail.sh":                 "#!/bin/sh\nexit 7\n",
				// A stand-in mpirun that says how it was called.
				"case/bin/mpirun": "#!/bin/sh\necho \"mpirun $*\"\n",
				"case/Allrun": `#!/bin/sh
cd "${0%/*}" || exit
. ${WM_PROJECT_DIR:?}/bin/tools/RunFunctions
PATH=$PWD/bin:$PATH
runApplication ./app.sh first
runApplication ./app.sh second
runApplication -append ./app.sh third
runApplication -s again ./app.sh fourth
runApplication -overwrite -s again ./app.sh fifth
runApplication ./fail.sh; echo "rc $?" > rc.txt
getApplication > application.txt
getNumberOfProcessors > nprocs.txt
getNumberOfProcessors system/nope > nprocs-none.txt
runParallel ./app.sh six
runParallel -s np2 -np 2 ./app.sh seven
restore0Dir
cloneCase . ../clone
isTest -a -test && echo yes > istest.txt
echo done
`,
			}
			for name, body := range files {
				p := filepath.Join(dir, name)
				os.MkdirAll(filepath.Dir(p), 0o755)
				os.WriteFile(p, []byte(body), 0o755)
			}
			log := filepath.Join(dir, "process_output.log")
			r := run(t, Spec{Dir: dir, Scratch: scratch, Log: log, Sandbox: sb(t), Software: &Software{OpenFOAM: true},
				Command: "./case/Allrun"})
			out := readFile(t, log)
			if r.Err != nil || r.ExitCode != 0 {
				t.Fatalf("result %+v\n%s", r, out)
			}
			for name, want := range map[string]string{
				"case/log.app.sh":          "app first\napp third\n",
				"case/log.app.sh.again":    "app fifth\n",
				"case/rc.txt":              "rc 7\n",
				"case/application.txt":     "myApp\n",
				"case/nprocs.txt":          "4\n",
				"case/nprocs-none.txt":     "1\n",
				"case/log.app.sh.np2":      "mpirun -np 2 ./app.sh -parallel seven\n",
				"case/0/U":                 "u\n",
				"clone/system/controlDict": files["case/system/controlDict"],
				"case/istest.txt":          "yes\n",
			} {
				if got := readFile(t, filepath.Join(dir, name)); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
			if !strings.Contains(out, "app.sh already run on "+dir+"/case: remove log file 'log.app.sh' to re-run") ||
				!strings.Contains(out, "done\n") {
				t.Errorf("process_output.log = %q", out)
			}
			// runParallel refused: log.app.sh existed, so "six" never ran.
			if strings.Contains(readFile(t, filepath.Join(dir, "case/log.app.sh")), "six") {
				t.Errorf("runParallel overwrote an existing log")
			}
		})
	}
}
