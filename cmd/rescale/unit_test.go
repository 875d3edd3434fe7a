package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openrescale/platform/client"
)

func lines(n, from int) []string {
	var out []string
	for i := from; i < from+n; i++ {
		out = append(out, "line "+string(rune('a'+i%26))+strings.Repeat("x", i/26))
	}
	return out
}

// TestLogFollower: successive tails of a growing file print each line
// once, in order; a half-written last line waits; a window that outran
// the lines printed says so once.
func TestLogFollower(t *testing.T) {
	var f logFollower
	var printed []string
	feed := func(window []string, max int) { printed = append(printed, f.feed(window, max)...) }

	feed([]string{"a", "b", "hal"}, 10) // "hal" may be half-written
	if strings.Join(printed, ",") != "a,b" {
		t.Fatalf("first window printed %v", printed)
	}
	feed([]string{"a", "b", "half", "c"}, 10)
	feed([]string{"a", "b", "half", "c"}, 10) // unchanged: "c" is complete
	if strings.Join(printed, ",") != "a,b,half,c" {
		t.Fatalf("printed %v", printed)
	}
	// The file outgrows the window (max 4): aligned on what was printed.
	feed([]string{"half", "c", "d", "e"}, 4)
	feed([]string{"d", "e", "f", "g"}, 4)
	if strings.Join(printed, ",") != "a,b,half,c,d,e,f" {
		t.Fatalf("printed %v", printed)
	}
	if !f.anchored || f.count != 7 {
		t.Fatalf("count %d anchored %v", f.count, f.anchored)
	}
	// The rest comes from the saved log, by line count.
	var rest []string
	if err := f.finish(strings.NewReader("a\nb\nhalf\nc\nd\ne\nf\ng\nh\n"), func(s string) { rest = append(rest, s) }); err != nil {
		t.Fatal(err)
	}
	if strings.Join(rest, ",") != "g,h" {
		t.Fatalf("finish printed %v", rest)
	}

	// Joining a long log: a marker, then the window; lines skipped later
	// are marked only once.
	var g logFollower
	out := g.feed(lines(5, 0), 5)
	if len(out) != 5 || !strings.Contains(out[0], "not shown") {
		t.Fatalf("joining: %v", out)
	}
	out = g.feed(lines(5, 100), 5)
	if len(out) != 4 || strings.Contains(out[0], "not shown") {
		t.Fatalf("second gap: %v", out)
	}
	rest = nil
	all := strings.Join(lines(110, 0), "\n") + "\n"
	g.finish(strings.NewReader(all), func(s string) { rest = append(rest, s) })
	if want := lines(6, 104); strings.Join(rest, ",") != strings.Join(want, ",") {
		t.Fatalf("finish after a gap: %v, want %v", rest, want)
	}

	// Never tailed (the job was quicker than a poll): the whole log.
	var h logFollower
	rest = nil
	h.finish(strings.NewReader("x\ny"), func(s string) { rest = append(rest, s) })
	if strings.Join(rest, ",") != "x,y" {
		t.Fatalf("never tailed: %v", rest)
	}
}

func TestExitCodeOf(t *testing.T) {
	for reason, want := range map[string]int{
		"Completed successfully":                                              0,
		"Run 1 failed: the command exited with code 3":                        3,
		"Run 1 failed: the command exited with code -1 (killed by SIGSEGV)":   1,
		"2 of 3 runs failed; Run 1 failed: the command exited with code 7":    7,
		"Validation failed: ls_dyna R13.0.0 is not installed on this machine": 1,
		"Job was stopped by the user":                                         1,
		"":                                                                    1,
	} {
		if got := exitCodeOf(reason); got != want {
			t.Errorf("exitCodeOf(%q) = %d, want %d", reason, got, want)
		}
	}
}

func TestParseSize(t *testing.T) {
	for s, want := range map[string]int64{"123": 123, "5MiB": 5 << 20, "5M": 5 << 20, "100MB": 100e6, "1.5G": 3 << 29, "8 KiB": 8 << 10} {
		if got, err := parseSize(s); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", "x", "5 parsecs", "-1"} {
		if _, err := parseSize(s); err == nil {
			t.Errorf("parseSize(%q) did not fail", s)
		}
	}
	var n int64 = 100 << 20
	if got := (sizeFlag{&n}).String(); got != "100MiB" {
		t.Errorf("sizeFlag prints %q", got)
	}
}

func TestLocalPath(t *testing.T) {
	f := client.File{ID: "f", RelativePath: "a/b.txt", Path: "user/user_u/output/job_J/run2/a/b.txt"}
	if got, err := localPath("out", f, true); err != nil || got != filepath.Join("out", "run2", "a", "b.txt") {
		t.Errorf("with run: %q %v", got, err)
	}
	if got, err := localPath("out", f, false); err != nil || got != filepath.Join("out", "a", "b.txt") {
		t.Errorf("without run: %q %v", got, err)
	}
	for _, bad := range []string{"../x", "/etc/passwd", "a/../../x", `a\b`} {
		if _, err := localPath("out", client.File{ID: "f", RelativePath: bad}, false); err == nil {
			t.Errorf("relative path %q accepted", bad)
		}
	}
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "apiconfig")
	os.WriteFile(file, []byte("apikey = top\n[default]\napikey = fromfile\napibaseurl = https://example.invalid\n[p]\napikey = pkey\napiurl = https://p.invalid\n"), 0o600)
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	c, err := LoadConfig("", "", file, "default", false, getenv)
	if err != nil || c.APIKey != "fromfile" || c.APIURL != "https://example.invalid" {
		t.Fatalf("file: %+v %v", c, err)
	}
	env["RESCALE_API_KEY"], env["RESCALE_API_URL"] = "envkey", "https://env.invalid"
	if c, _ := LoadConfig("", "", file, "p", false, getenv); c.APIKey != "envkey" || c.APIURL != "https://env.invalid" {
		t.Fatalf("env: %+v", c)
	}
	if c, _ := LoadConfig("https://flag.invalid", "flagkey", file, "p", false, getenv); c.APIKey != "flagkey" || c.APIURL != "https://flag.invalid" {
		t.Fatalf("flags: %+v", c)
	}
	delete(env, "RESCALE_API_KEY")
	if c, _ := LoadConfig("", "", file, "p", false, getenv); c.APIKey != "pkey" || c.APIURL != "https://env.invalid" {
		t.Fatalf("profile p under env URL: %+v", c)
	}
	if _, err := LoadConfig("", "", file, "nope", false, getenv); err == nil {
		t.Fatal("unknown profile accepted")
	}
	if _, err := LoadConfig("", "", filepath.Join(dir, "missing"), "default", true, getenv); err == nil {
		t.Fatal("a missing --config accepted")
	}
	delete(env, "RESCALE_API_URL")
	if c, err := LoadConfig("", "", filepath.Join(dir, "missing"), "default", false, getenv); err == nil || c.APIURL != DefaultAPIURL {
		t.Fatalf("nothing configured: %+v %v", c, err)
	}
}
