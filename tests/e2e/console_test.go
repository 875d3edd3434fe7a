package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

// chromiumPath finds Debian's chromium (CI installs it). Missing, the test
// skips, unless REQUIRE_TEST_SERVERS=1 says this run must have it.
func chromiumPath(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("REQUIRE_TEST_SERVERS") == "1" {
		t.Fatal("chromium not found and REQUIRE_TEST_SERVERS=1 (apt-get install chromium)")
	}
	t.Skip("chromium not found (apt-get install chromium)")
	return ""
}

// artifactDir keeps the screenshots: under $TEST_ARTIFACTS when set, else
// in a temporary directory that outlives the test (its path is logged).
func artifactDir(t *testing.T) string {
	if d := os.Getenv("TEST_ARTIFACTS"); d != "" {
		dir := filepath.Join(d, "console")
		// A fresh set each run: numbered names from an older run would mix in.
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	dir, err := os.MkdirTemp("", "console-artifacts-")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// browserPage drives one headless Chromium tab.
type browserPage struct {
	t     *testing.T
	ctx   context.Context
	shots string
	n     int

	mu      sync.Mutex
	console []chromedp.ConsoleMessage
}

func newBrowserPage(t *testing.T) *browserPage {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-gpu", true),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses to run as root with its sandbox
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	p := &browserPage{t: t, ctx: ctx, shots: artifactDir(t)}
	t.Logf("console screenshots in %s", p.shots)
	// The first Run starts the browser; no timeout on it (see chromedp.Run).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			p.mu.Lock()
			p.console = append(p.console, m)
			p.mu.Unlock()
		}
	}()
	t.Cleanup(p.checkConsole)
	return p
}

// checkConsole fails the test on any uncaught exception in the page.
func (p *browserPage) checkConsole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range p.console {
		if m.IsException() {
			p.t.Errorf("page exception: %s (%s:%d)", m.Text, m.URL, m.Line)
		} else if p.t.Failed() {
			p.t.Logf("page console: %s", m)
		}
	}
}

// do runs steps with a deadline; on failure it keeps a screenshot.
func (p *browserPage) do(what string, timeout time.Duration, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.shot("failed-" + strings.ReplaceAll(what, " ", "-"))
		var html string
		hctx, hcancel := context.WithTimeout(p.ctx, 5*time.Second)
		defer hcancel()
		html, _ = chromedp.Run(hctx, chromedp.Evaluate[string](`document.querySelector("main").innerText`))
		p.t.Fatalf("%s: %v\npage text:\n%s", what, err, html)
	}
}

// waitJS waits until the expression is truthy.
func (p *browserPage) waitJS(what, expr string, timeout time.Duration) {
	p.t.Helper()
	p.do(what, timeout+5*time.Second, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(timeout))(ctx, t)
		return err
	}))
}

func evalJS[T any](p *browserPage, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// text is the visible text of the first element matching a CSS selector.
func (p *browserPage) text(sel string) string {
	p.t.Helper()
	b, _ := json.Marshal(sel)
	return evalJS[string](p, fmt.Sprintf(`(document.querySelector(%s) || {innerText: ""}).innerText`, b))
}

// shot saves a full-page PNG and returns it.
func (p *browserPage) shot(name string) []byte {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 15*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Logf("screenshot %s: %v", name, err)
		return nil
	}
	p.n++
	path := filepath.Join(p.shots, fmt.Sprintf("%02d-%s.png", p.n, name))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Logf("screenshot %s: %v", name, err)
	}
	return png
}

// a11yJS lists what would stop a keyboard or screen reader user on the
// page as it is now: unlabelled controls, nameless buttons and links,
// duplicate ids, not exactly one h1, missing landmarks, a chart without a
// text alternative, a status shown only as a symbol or colour.
const a11yJS = `(() => {
  const problems = [];
  const visible = (el) => !el.closest("[hidden]");
  const ids = new Set();
  for (const el of document.querySelectorAll("[id]")) {
    if (ids.has(el.id)) problems.push("duplicate id " + el.id);
    ids.add(el.id);
  }
  for (const el of document.querySelectorAll("input:not([type=hidden]), select, textarea")) {
    if (!visible(el)) continue;
    if (!(el.labels && el.labels.length) && !el.getAttribute("aria-label") && !el.getAttribute("aria-labelledby")) problems.push("unlabelled " + el.tagName.toLowerCase() + "#" + el.id);
  }
  for (const el of document.querySelectorAll("button, a[href]")) {
    if (visible(el) && !(el.getAttribute("aria-label") || el.textContent).trim()) problems.push("nameless " + el.tagName.toLowerCase());
  }
  const h1s = document.querySelectorAll("main h1").length;
  if (h1s !== 1) problems.push(h1s + " h1 elements in main");
  for (const lm of ["header", "nav", "main"]) if (!document.querySelector(lm)) problems.push("no <" + lm + ">");
  for (const svg of document.querySelectorAll("main svg")) {
    if (svg.getAttribute("role") !== "img" || !svg.querySelector("title")) problems.push("svg without role=img and a title");
  }
  for (const st of document.querySelectorAll(".status")) {
    if (!st.textContent.replace(/[\u25cb\u25d0\u25cf\u25a0]/g, "").trim()) problems.push("status without a word");
  }
  for (const t of document.querySelectorAll("main table")) if (!t.querySelector("th")) problems.push("table without headers");
  return problems;
})()`

// checkA11y fails the test on any problem a11yJS finds.
func (p *browserPage) checkA11y(page string) {
	p.t.Helper()
	if problems := evalJS[[]string](p, a11yJS); len(problems) > 0 {
		p.t.Errorf("%s page: %s", page, strings.Join(problems, "; "))
	}
}

// selectValue picks an option and fires change, as a user's choice does.
func (p *browserPage) selectValue(sel, value string) {
	p.t.Helper()
	s, _ := json.Marshal(sel)
	v, _ := json.Marshal(value)
	got := evalJS[string](p, fmt.Sprintf(`(() => { const el = document.querySelector(%s); el.value = %s; el.dispatchEvent(new Event("change", {bubbles: true})); return el.value; })()`, s, v))
	if got != value {
		p.t.Fatalf("%s has no option %q", sel, value)
	}
}

// TestConsole drives the web console in headless Chromium the way a user
// would: log in with a key, create a job with an uploaded input, submit,
// watch it complete, read its log and residuals chart, download an output
// and compare its bytes, then look at the job list, files and keys.
func TestConsole(t *testing.T) {
	s := start(t, t.TempDir(), []string{"RESCALE_LOCAL_API_KEY=" + testKey}, "--stop-grace", "2s")
	p := newBrowserPage(t)
	c := jobClient{t: t, s: s, key: testKey}

	// Log in: a wrong key is refused, the right one kept in sessionStorage
	// and never put in the URL.
	p.do("open console", 20*time.Second,
		chromedp.Navigate(s.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS("#api-key")))
	p.do("wrong key", 10*time.Second,
		chromedp.SendKeys(chromedp.CSS("#api-key"), "rsk_notAKeyOfAnyone0123456789"),
		chromedp.Click(chromedp.CSS("form button[type=submit]")))
	p.waitJS("refusal shown", `document.querySelector("main").innerText.includes("That key was not accepted")`, 10*time.Second)
	evalJS[chromedp.Void](p, `document.querySelector("#api-key").value = ""`)
	p.checkA11y("login")
	// Enter submits: the form works from the keyboard alone.
	p.do("log in", 10*time.Second,
		chromedp.SendKeys(chromedp.CSS("#api-key"), testKey+"\r"),
		chromedp.WaitVisible(chromedp.CSS(`a.button[href="#/new"]`)))
	p.checkA11y("jobs")
	if got := evalJS[string](p, `sessionStorage.getItem("rescale.apiKey")`); got != testKey {
		t.Fatalf("sessionStorage key %q", got)
	}
	if evalJS[bool](p, fmt.Sprintf(`location.href.includes(%q) || document.cookie.includes(%q)`, testKey, testKey)) {
		t.Fatal("the key is in the URL or a cookie")
	}

	// Create a job: an input uploaded with progress, a command that copies
	// it and prints OpenFOAM-style residuals.
	var input bytes.Buffer
	for i := 0; input.Len() < 3<<20; i++ {
		fmt.Fprintf(&input, "line %d of the console test's input %x\n", i, i*7919)
	}
	inPath := filepath.Join(t.TempDir(), "input.dat")
	if err := os.WriteFile(inPath, input.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	// The residuals go to log.simpleFoam, as a solver's own log does; the
	// chart must prefer it to process_output.log, which has no residuals.
	// A file uploaded earlier (through the API, as the CLI does) is added
	// from the library instead of being uploaded again.
	libraryID := c.upload("library-case.txt", []byte("from the library\n"))
	command := `echo hello > out.txt; cp input.dat copy.dat; cp library-case.txt library-copy.txt; for i in 1 2 3; do echo "Time = $i"; { echo "Time = $i"; echo "smoothSolver:  Solving for Ux, Initial residual = 0.$((4-i)), Final residual = 0.01, No Iterations 2"; echo "GAMG:  Solving for p, Initial residual = 0.0$((4-i)), Final residual = 0.001, No Iterations 5"; } >> log.simpleFoam; done`
	p.do("open new job form", 15*time.Second,
		chromedp.Click(chromedp.CSS(`a.button[href="#/new"]`)),
		chromedp.WaitVisible(chromedp.CSS("#job-name")),
		chromedp.WaitReady(chromedp.CSS(`#job-coretype option`)))
	if got := evalJS[string](p, `document.querySelector("#job-analysis").value`); got != "user_included" {
		t.Fatalf("default software %q", got)
	}
	p.checkA11y("new job")
	p.selectValue("#job-coretype", "standard-plus")
	p.do("fill form", 15*time.Second,
		chromedp.SetValue(chromedp.CSS("#job-name"), "console job"),
		chromedp.SetValue(chromedp.CSS("#job-command"), command),
		chromedp.SetUploadFiles(chromedp.CSS("#job-inputs"), []string{inPath}))
	p.waitJS("input uploaded", `(() => { const li = document.querySelector('ul.uploads li[data-file="input.dat"]');
		return li && li.classList.contains("done") && li.querySelector("progress").value === 100 && li.innerText.includes("uploaded"); })()`, 20*time.Second)
	p.do("find a file uploaded before", 15*time.Second,
		chromedp.SetValue(chromedp.CSS("#job-library"), "library-case"),
		chromedp.Click(chromedp.CSS("#job-library-find")),
		chromedp.WaitVisible(chromedp.CSS(`ul.library button.add-input[data-id="`+libraryID+`"]`)))
	if n := evalJS[int](p, `document.querySelectorAll("ul.library button.add-input").length`); n != 1 {
		t.Fatalf("the search for library-case found %d files, want 1", n)
	}
	p.do("add it as an input", 15*time.Second,
		chromedp.Click(chromedp.CSS(`ul.library button.add-input[data-id="`+libraryID+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`ul.uploads li.done[data-id="`+libraryID+`"]`)))
	p.shot("new-job")
	var files page[map[string]any]
	c.get("/api/v2/files/?search=input.dat", &files)
	if files.Count != 1 || files.Results[0]["decryptedSize"] != float64(input.Len()) {
		t.Fatalf("uploaded input: %+v", files)
	}

	// Submit and watch it complete: the outputs' download buttons appear
	// once the job is Completed and its outputs are listed.
	p.do("save and submit", 15*time.Second,
		chromedp.Click(chromedp.CSS("#save-submit")),
		chromedp.WaitVisible(chromedp.CSS("#timeline-title")))
	loc := evalJS[string](p, `location.hash`)
	jobID, ok := strings.CutPrefix(loc, "#/jobs/")
	if !ok || jobID == "" {
		t.Fatalf("after submit the console is at %q", loc)
	}
	p.waitJS("job completes", `!!document.querySelector('button.download[data-file="copy.dat"]')`, 45*time.Second)
	var saved map[string]any
	c.get("/api/v2/jobs/"+jobID+"/", &saved)
	var inputIDs []string
	for _, f := range at(t, saved, "jobanalyses", 0, "inputFiles").([]any) {
		inputIDs = append(inputIDs, f.(map[string]any)["id"].(string))
	}
	if len(inputIDs) != 2 || !slices.Contains(inputIDs, libraryID) || !slices.Contains(inputIDs, files.Results[0]["id"].(string)) {
		t.Fatalf("job inputs %v, want the uploaded input and %s from the library", inputIDs, libraryID)
	}
	if !evalJS[bool](p, `!!document.querySelector('button.download[data-file="library-copy.txt"]')`) {
		t.Fatal("no library-copy.txt output: the library file did not reach the job")
	}
	st := c.statuses(jobID)
	if len(st) == 0 || st[0].Status != "Completed" {
		t.Fatalf("API statuses %+v", st)
	}
	timeline := p.text(".timeline")
	var shown []string
	for _, line := range strings.Split(timeline, "\n") {
		if f := strings.Fields(line); len(f) > 1 {
			shown = append(shown, f[1]) // after the status symbol
		}
	}
	if got, want := strings.Join(shown, ","), strings.Join(sequence(st), ","); got != want {
		t.Fatalf("timeline shows %s, API has %s:\n%s", got, want, timeline)
	}
	if got := p.text("h1 + span .status"); !strings.Contains(got, "Completed") {
		t.Fatalf("status badge %q", got)
	}

	// Its log: the saved process_output.log.
	p.waitJS("saved log", `document.querySelector("#log-state").innerText.startsWith("Saved log")`, 10*time.Second)
	log := p.text("#log")
	for _, want := range []string{"Time = 1", "Time = 3"} {
		if !strings.Contains(log, want) {
			t.Fatalf("log lacks %q:\n%s", want, log)
		}
	}
	if title := evalJS[string](p, `(document.querySelector("svg.chart title") || {textContent: ""}).textContent`); !strings.Contains(title, "log.simpleFoam") {
		t.Fatalf("chart title %q does not name log.simpleFoam", title)
	}
	// The residuals chart: one series per field, three points each.
	for _, field := range []string{"Ux", "p"} {
		n := evalJS[int](p, fmt.Sprintf(`document.querySelectorAll('svg.chart g.series[data-field=%q] circle, svg.chart g.series[data-field=%q] rect').length`, field, field))
		if n != 3+1 { // three points and the legend's marker
			t.Fatalf("chart series %s has %d markers", field, n)
		}
	}
	p.checkA11y("job")
	png := p.shot("job-completed")
	if os.Getenv("CONSOLE_README_SCREENSHOT") == "1" && png != nil {
		if err := os.WriteFile(filepath.Join("..", "..", "docs", "console.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// Download an output through the browser and compare its bytes.
	dl := t.TempDir()
	progress := chromedp.Events(p.ctx, browser.DownloadProgress)
	begin := chromedp.Events(p.ctx, browser.DownloadWillBegin)
	p.do("download", 15*time.Second,
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
				Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dl, EventsEnabled: ptrTo(true),
			})
			return err
		}),
		chromedp.Click(chromedp.CSS(`button.download[data-file="copy.dat"]`)))
	var guid string
	for ev, err := range begin {
		if err != nil {
			t.Fatal(err)
		}
		if ev.SuggestedFilename != "copy.dat" {
			t.Fatalf("download named %q", ev.SuggestedFilename)
		}
		guid = ev.GUID
		break
	}
	for ev, err := range progress {
		if err != nil {
			t.Fatal(err)
		}
		if ev.GUID == guid && ev.State == browser.DownloadProgressStateCanceled {
			t.Fatal("download cancelled")
		}
		if ev.GUID == guid && ev.State == browser.DownloadProgressStateCompleted {
			break
		}
	}
	got, err := os.ReadFile(filepath.Join(dl, guid))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, input.Bytes()) {
		t.Fatalf("downloaded copy.dat: %d bytes, want the %d bytes uploaded", len(got), input.Len())
	}

	// A saved job submitted from its page: its log is followed while it
	// runs, and the Stop button ends it.
	sleeper := c.createJob("sleeper", "user_included", "", `echo live-line-1; echo live-line-2; mkdir -p case; printf 'Time = 1\nGAMG:  Solving for p, Initial residual = 1, Final residual = 0.1\nTime = 2\nGAMG:  Solving for p, Initial residual = 0.5, Final residual = 0.05\n' > case/log.simpleFoam; sleep 300`)
	p.do("open saved job", 15*time.Second,
		chromedp.Navigate(s.URL+"/#/jobs/"+sleeper),
		chromedp.WaitVisible(chromedp.CSS("#submit")))
	if got := p.text(".timeline"); !strings.Contains(got, "Not submitted") {
		t.Fatalf("unsubmitted timeline %q (the Submit button is drawn with the first statuses)", got)
	}
	p.do("submit", 10*time.Second, chromedp.Click(chromedp.CSS("#submit")))
	p.waitJS("live log", `document.querySelector("#log").innerText.includes("live-line-2") && document.querySelector("#log-state").innerText.startsWith("Live:")`, 30*time.Second)
	// The live chart reads the solver log from the run's directory.
	p.waitJS("live chart", `(document.querySelector("svg.chart title") || {textContent: ""}).textContent.includes("case/log.simpleFoam (live)")`, 15*time.Second)
	p.checkA11y("running job")
	p.shot("job-running")
	p.do("stop", 10*time.Second, chromedp.Click(chromedp.CSS("#stop")))
	p.waitJS("stopped job completes", `document.querySelector("#log-state").innerText.startsWith("Saved log")`, 30*time.Second)
	if st := c.statuses(sleeper); st[0].Status != "Completed" || st[0].Reason == nil || !strings.Contains(strings.ToLower(*st[0].Reason), "stopped by the user") {
		t.Fatalf("stopped job's statuses %+v", st)
	}
	if got := p.text(".timeline"); !strings.Contains(got, "Stopping") || !strings.Contains(strings.ToLower(got), "stopped by the user") {
		t.Fatalf("stopped job's timeline %q", got)
	}
	if log := p.text("#log"); !strings.Contains(log, "live-line-2") {
		t.Fatalf("stopped job's saved log %q", log)
	}

	// The job list finds it by search and status; a search that matches
	// nothing says so.
	p.do("job list", 15*time.Second,
		chromedp.Navigate(s.URL+"/#/jobs?q=console&status=COMPLETED"),
		chromedp.WaitVisible(chromedp.CSS("table.jobs")))
	if row := p.text("table.jobs tbody tr"); !strings.Contains(row, "console job") || !strings.Contains(row, "Completed") {
		t.Fatalf("job list row %q", row)
	}
	p.shot("jobs")
	p.do("empty search", 15*time.Second,
		chromedp.SetValue(chromedp.CSS("#job-q"), "nothing-matches-this"),
		chromedp.Click(chromedp.CSS("form.filters button[type=submit]")))
	p.waitJS("no match", `document.querySelector("main").innerText.includes("No jobs match.")`, 10*time.Second)

	// Pagination: 20 jobs a page, newest first.
	for i := 0; i < 21; i++ {
		c.createJob(fmt.Sprintf("filler %02d", i), "user_included", "", "true")
	}
	p.do("jobs page 1", 15*time.Second,
		chromedp.Navigate(s.URL+"/#/jobs"),
		chromedp.WaitVisible(chromedp.CSS(`nav.pager a[rel="next"]`)))
	if got := p.text("table.jobs caption"); got != "23 jobs, page 1 of 2" {
		t.Fatalf("page 1 caption %q", got)
	}
	p.do("jobs page 2", 15*time.Second,
		chromedp.Click(chromedp.CSS(`nav.pager a[rel="next"]`)),
		chromedp.WaitVisible(chromedp.CSS(`nav.pager a[rel="prev"]`)))
	p.waitJS("page 2 rows", `document.querySelectorAll("table.jobs tbody tr").length === 3`, 10*time.Second)
	if got := p.text("table.jobs tbody"); !strings.Contains(got, "console job") || !strings.Contains(got, "sleeper") {
		t.Fatalf("page 2 holds %q, want the two oldest jobs", got)
	}
	p.checkA11y("jobs page 2")

	// Files: the uploaded input in My library; a new folder, and a file
	// uploaded into it.
	p.do("files", 15*time.Second,
		chromedp.Navigate(s.URL+"/#/files"),
		chromedp.WaitVisible(chromedp.CSS("table.files")))
	if body := p.text("table.files"); !strings.Contains(body, "input.dat") {
		t.Fatalf("files page: %q", body)
	}
	p.checkA11y("files")
	p.do("new folder", 15*time.Second,
		chromedp.SendKeys(chromedp.CSS("#folder-name"), "results\r"))
	p.waitJS("folder listed", `[...document.querySelectorAll("table.files a")].some((a) => a.textContent.includes("results/"))`, 10*time.Second)
	p.do("open folder", 15*time.Second, chromedp.Click(chromedp.JSPath(`[...document.querySelectorAll("table.files a")].find((a) => a.textContent.includes("results/"))`)))
	p.waitJS("in folder", `document.querySelector("nav.crumbs [aria-current=page]") && document.querySelector("nav.crumbs [aria-current=page]").textContent === "results"`, 10*time.Second)
	folder, _ := strings.CutPrefix(evalJS[string](p, `location.hash`), "#/files/")
	notes := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(notes, []byte("notes for the folder\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p.do("upload into folder", 15*time.Second, chromedp.SetUploadFiles(chromedp.CSS("#file-upload"), []string{notes}))
	p.waitJS("file listed in folder", `!!document.querySelector("table.files") && document.querySelector("table.files").innerText.includes("notes.txt")`, 15*time.Second)
	var inFolder page[map[string]any]
	c.get("/api/v3/folders/"+folder+"/contents/", &inFolder)
	if inFolder.Count != 1 || inFolder.Results[0]["item"].(map[string]any)["name"] != "notes.txt" {
		t.Fatalf("folder %s holds %+v", folder, inFolder)
	}
	p.shot("files")

	// API keys: this session's key is marked; a new key is shown once and
	// works.
	p.do("keys", 15*time.Second,
		chromedp.Navigate(s.URL+"/#/keys"),
		chromedp.WaitVisible(chromedp.CSS("table")))
	if body := p.text("table"); !strings.Contains(body, testKey[:12]) || !strings.Contains(body, "(this session)") {
		t.Fatalf("keys page: %q", body)
	}
	p.checkA11y("keys")
	p.do("create key", 15*time.Second,
		chromedp.Click(chromedp.CSS(`form[aria-label="New API key"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#new-key")))
	newKey := p.text("#new-key")
	if r := do(t, "GET", s.URL+"/api/v2/jobs/?page_size=1", newKey, nil); r.Status != 200 {
		t.Fatalf("the key the console created: %d %s", r.Status, r.Body)
	}
	p.shot("keys")

	// Log out: the key leaves sessionStorage and the login form is back.
	p.do("log out", 10*time.Second,
		chromedp.Click(chromedp.CSS("#logout")),
		chromedp.WaitVisible(chromedp.CSS("#api-key")))
	if evalJS[bool](p, `sessionStorage.getItem("rescale.apiKey") !== null`) {
		t.Fatal("the key is still in sessionStorage after logging out")
	}
}

func ptrTo[T any](v T) *T { return &v }
