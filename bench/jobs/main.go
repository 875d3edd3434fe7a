// Command jobs measures the jobs API end to end: it builds and starts the
// real rescale-local server and, against baselines measured in the same
// run, reports
//
//  1. latency: submit of a `true` job → Completed seen by a client polling
//     every 5 ms (p50/p95 over jobs run one after another), versus
//     `bash -c true` exec'd directly and the same under bubblewrap with
//     the sandbox's own arguments (worker.Bubblewrap.Wrap), for servers
//     started with --sandbox none and --sandbox bwrap; plus where the time
//     goes, from the statuses' statusDate;
//
//  2. throughput: trivial jobs completed per second with 8 concurrent
//     clients (create → submit → poll until Completed), --cores 8, versus
//     8 goroutines exec'ing the same commands directly;
//
//  3. memory: the server's VmRSS/VmHWM right after start (the baseline),
//     after 1,000 finished jobs, and while and after one job prints 1 GiB
//     to stdout (its process_output.log is saved as an output).
//
//     go run ./bench/jobs
//     go run ./bench/jobs -n 50 -jobs 200 -mem-jobs 500 -big 256MiB
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/openrescale/platform/shared/worker"
)

const key = "rsk_benchFixedKeyForTheDefaultUser0123456789"

type options struct {
	n, jobs, clients, memJobs int
	big                       int64
	poll, slowPoll            time.Duration
	dir                       string
	only                      map[string]bool
}

func (o options) want(section string) bool { return len(o.only) == 0 || o.only[section] }

func main() {
	var o options
	flag.IntVar(&o.n, "n", 100, "latency: jobs run one after another, per sandbox mode")
	flag.IntVar(&o.jobs, "jobs", 400, "throughput: jobs per sandbox mode")
	flag.IntVar(&o.clients, "clients", 8, "throughput: concurrent clients (and the server's --cores)")
	flag.IntVar(&o.memJobs, "mem-jobs", 1000, "memory: finished jobs before reading the server's RSS")
	size := flag.String("big", "1GiB", "memory: stdout printed by the big job (e.g. 1GiB, 256MiB)")
	flag.DurationVar(&o.poll, "poll", 5*time.Millisecond, "status polling interval")
	flag.DurationVar(&o.slowPoll, "slow-poll", 50*time.Millisecond, "throughput: also measure --sandbox bwrap polling this often, to show the polls' cost (0: skip)")
	flag.StringVar(&o.dir, "dir", "", "scratch directory (default: a new temp dir, removed after)")
	only := flag.String("only", "", "comma-separated sections to run: latency, throughput, memory (default: all)")
	flag.Parse()
	if *only != "" {
		o.only = map[string]bool{}
		for _, s := range strings.Split(*only, ",") {
			if s != "latency" && s != "throughput" && s != "memory" {
				fail(fmt.Errorf("-only: unknown section %q", s))
			}
			o.only[s] = true
		}
	}
	var err error
	if o.big, err = parseSize(*size); err != nil {
		fail(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, o)
	stop()
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

func parseSize(s string) (int64, error) {
	mult := int64(1)
	for suffix, m := range map[string]int64{"GiB": 1 << 30, "MiB": 1 << 20, "KiB": 1 << 10} {
		if strings.HasSuffix(s, suffix) {
			s, mult = strings.TrimSuffix(s, suffix), m
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mult, nil
}

func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, a...)...)
}

// row is one line of the result table.
type row struct{ section, measure, platform, baseline, ratio, goal string }

// bench holds what the sections share and what they report.
type bench struct {
	o                 options
	bin, bash         string
	direct, sandboxed []string // bash -c true, and the same in the sandbox
	rows              []row
	breakdowns        []breakdown
	diags             []diag
	problems          []string
	quiet             float64 // the machine's busy share in the second before
}

func run(ctx context.Context, o options) error {
	if o.dir == "" {
		d, err := os.MkdirTemp("", "jobs-bench")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		o.dir = d
	}
	b := &bench{o: o, bin: filepath.Join(o.dir, "rescale-local")}
	// Other work on the machine skews everything: say how busy it was.
	m0 := readMachine()
	time.Sleep(time.Second)
	if m1 := readMachine(); m1.total > m0.total {
		b.quiet = float64(m1.busy-m0.busy) / float64(m1.total-m0.total)
		logf("machine busy before the benchmark: %.0f%% of all CPUs", 100*b.quiet)
	}
	logf("building cmd/rescale-local")
	if out, err := exec.Command("go", "build", "-o", b.bin, "./cmd/rescale-local").CombinedOutput(); err != nil {
		return fmt.Errorf("build (run from the repository root): %v\n%s", err, out)
	}
	var err error
	if b.bash, err = exec.LookPath("bash"); err != nil {
		return err
	}
	bwrap, err := exec.LookPath("bwrap")
	if err != nil {
		return fmt.Errorf("bubblewrap is needed for the bwrap baseline and --sandbox bwrap: %w", err)
	}
	b.direct = []string{b.bash, "-c", "true"}
	if b.sandboxed, err = bwrapArgv(bwrap, o.dir, b.direct); err != nil {
		return err
	}
	for _, sec := range []struct {
		name string
		fn   func(context.Context) error
	}{{"latency", b.latency}, {"throughput", b.throughput}, {"memory", b.memory}} {
		if !o.want(sec.name) {
			continue
		}
		if err := sec.fn(ctx); err != nil {
			return fmt.Errorf("%s: %w", sec.name, err)
		}
	}
	printReport(os.Stdout, o, b.quiet, b.rows, b.breakdowns, b.diags, b.problems)
	return nil
}

func (b *bench) baseline(mode string) (argv []string, name string) {
	if mode == "bwrap" {
		return b.sandboxed, "`bwrap … bash -c true`"
	}
	return b.direct, "`bash -c true`"
}

// latency: jobs one after another, submit → Completed seen.
func (b *bench) latency(ctx context.Context) error {
	o := b.o
	logf("latency baselines: %d × bash -c true, %d × bwrap … bash -c true", o.n, o.n)
	base := map[string][]time.Duration{}
	for _, mode := range []string{"none", "bwrap"} {
		argv, _ := b.baseline(mode)
		d, err := execLatency(ctx, argv, o.n)
		if err != nil {
			return err
		}
		base[mode] = d
	}
	for _, mode := range []string{"none", "bwrap"} {
		_, baseName := b.baseline(mode)
		logf("latency: %d sequential jobs, --sandbox %s", o.n, mode)
		res, err := withServer(ctx, b.bin, filepath.Join(o.dir, "lat-"+mode), []string{"--sandbox", mode}, func(s *server) error {
			c := newClient(s.url, 2)
			for range 3 { // warm-up: first connections, first store pages
				if _, err := c.runJob(ctx, "true", o.poll); err != nil {
					return err
				}
			}
			u := startUsage(s.Process.Pid)
			for range o.n {
				r, err := c.runJob(ctx, "true", o.poll)
				if err != nil {
					return err
				}
				s.results = append(s.results, r)
			}
			b.diags = append(b.diags, u.stop("latency `--sandbox "+mode+"`", s.results))
			// The run's own times (process start and end), outside the timing.
			for i := range s.results {
				if err := c.runTimes(ctx, &s.results[i]); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("--sandbox %s: %w", mode, err)
		}
		b.problems = append(b.problems, checkResults("latency --sandbox "+mode, res)...)
		lat := make([]time.Duration, len(res))
		for i, r := range res {
			lat[i] = r.seen.Sub(r.submit)
		}
		p50, p95 := pct(lat, 50), pct(lat, 95)
		b50, b95 := pct(base[mode], 50), pct(base[mode], 95)
		b.rows = append(b.rows,
			row{"1 latency", "submit → Completed seen, p50, `--sandbox " + mode + "`", ms(p50), ms(b50) + " (" + baseName + ")", fmt.Sprintf("+%s (%s)", ms(p50-b50), ratio(p50, b50)), "overhead ≤ 25 ms"},
			row{"1 latency", "submit → Completed seen, p95, `--sandbox " + mode + "`", ms(p95), ms(b95) + " (" + baseName + ")", fmt.Sprintf("+%s (%s)", ms(p95-b95), ratio(p95, b95)), ""},
		)
		b.breakdowns = append(b.breakdowns, breakdownOf("--sandbox "+mode+", sequential", res))
	}
	return nil
}

// throughput: clients concurrent clients, each create → submit → poll.
func (b *bench) throughput(ctx context.Context) error {
	o := b.o
	logf("throughput baselines: %d × bash -c true and bwrap … bash -c true, %d goroutines", o.jobs, o.clients)
	base := map[string]float64{}
	for _, mode := range []string{"none", "bwrap"} {
		argv, _ := b.baseline(mode)
		r, err := execThroughput(ctx, argv, o.jobs, o.clients)
		if err != nil {
			return err
		}
		base[mode] = r
	}
	type variant struct {
		mode string
		poll time.Duration
	}
	variants := []variant{{"none", o.poll}, {"bwrap", o.poll}}
	if o.slowPoll > 0 {
		variants = append(variants, variant{"bwrap", o.slowPoll})
	}
	for i, v := range variants {
		mode := v.mode
		_, baseName := b.baseline(mode)
		label := fmt.Sprintf("`--sandbox %s`", mode)
		if v.poll != o.poll {
			label += fmt.Sprintf(", polling every %s", v.poll)
		}
		logf("throughput: %d jobs, %d clients, --cores %d --sandbox %s, polling every %s", o.jobs, o.clients, o.clients, mode, v.poll)
		var t tput
		res, err := withServer(ctx, b.bin, filepath.Join(o.dir, fmt.Sprintf("tput-%s-%d", mode, i)), []string{"--sandbox", mode, "--cores", strconv.Itoa(o.clients)}, func(s *server) error {
			var err error
			t, err = runThroughput(ctx, s, fmt.Sprintf("throughput %s, %d clients", label, o.clients), o.jobs, o.clients, v.poll)
			s.results = t.res
			return err
		})
		if err != nil {
			return fmt.Errorf("--sandbox %s: %w", mode, err)
		}
		b.problems = append(b.problems, checkResults("throughput --sandbox "+mode, res)...)
		b.diags = append(b.diags, t.usage)
		b.rows = append(b.rows, row{"2 throughput", fmt.Sprintf("jobs/s, %d clients, `--cores %d` %s", o.clients, o.clients, label),
			fmt.Sprintf("%.1f jobs/s (%d in %s)", t.rate(), len(res), t.elapsed.Round(time.Millisecond)),
			fmt.Sprintf("%.0f runs/s (%s ×%d)", base[mode], baseName, o.clients), fmt.Sprintf("%.3f×", t.rate()/base[mode]), "≥ 200 jobs/s"})
		b.breakdowns = append(b.breakdowns, breakdownOf(strings.ReplaceAll(label, "`", "")+", "+strconv.Itoa(o.clients)+" clients", res))
	}
	return nil
}

// tput is one throughput measurement.
type tput struct {
	res     []jobResult
	elapsed time.Duration
	usage   diag
}

func (t tput) rate() float64 { return float64(len(t.res)) / t.elapsed.Seconds() }

func runThroughput(ctx context.Context, s *server, name string, jobs, clients int, poll time.Duration) (tput, error) {
	c := newClient(s.url, 4*clients)
	u := startUsage(s.Process.Pid)
	var t tput
	var err error
	t.res, err = c.runConcurrent(ctx, "true", jobs, clients, poll)
	t.usage = u.stop(name, t.res)
	t.elapsed = t.usage.elapsed
	return t, err
}

// memory: the server's RSS after memJobs jobs and around a job printing
// big bytes to stdout.
func (b *bench) memory(ctx context.Context) error {
	o := b.o
	logf("memory: %d jobs, then one printing %s to stdout, --sandbox bwrap --cores %d", o.memJobs, human(o.big), o.clients)
	bigCmd := fmt.Sprintf(`head -c %d /dev/zero | tr '\0' a`, o.big)
	baseBig, err := timed(func() error {
		out := filepath.Join(o.dir, "big-baseline.log")
		defer os.Remove(out)
		return exec.CommandContext(ctx, b.bash, "-c", bigCmd+" > "+out+" && sync "+out).Run()
	})
	if err != nil {
		return fmt.Errorf("big baseline: %w", err)
	}
	_, err = withServer(ctx, b.bin, filepath.Join(o.dir, "mem"), []string{"--sandbox", "bwrap", "--cores", strconv.Itoa(o.clients)}, func(s *server) error {
		pid := s.Process.Pid
		start, err := readMem(pid)
		if err != nil {
			return err
		}
		t, err := runThroughput(ctx, s, fmt.Sprintf("memory phase `--sandbox bwrap`, %d clients", o.clients), o.memJobs, o.clients, o.poll)
		if err != nil {
			return err
		}
		b.diags = append(b.diags, t.usage)
		res := t.res
		b.problems = append(b.problems, checkResults("memory --sandbox bwrap", res)...)
		after, err := readMem(pid)
		if err != nil {
			return err
		}
		storeSize := fileSize(filepath.Join(s.data, "store.db"))
		b.rows = append(b.rows,
			row{"3 memory", "server VmRSS right after start", mib(start.rss) + " " + split(start), "—", "—", ""},
			row{"3 memory", fmt.Sprintf("VmRSS after %d finished jobs (%d clients, %.1f jobs/s; store.db %s, mapped by bbolt)", len(res), o.clients, t.rate(), mib(storeSize)), mib(after.rss) + " " + split(after), mib(start.rss) + " (at start)", ratioF(after.rss, start.rss), ""},
			row{"3 memory", fmt.Sprintf("VmHWM after %d finished jobs", len(res)), mib(after.hwm), mib(start.rss) + " (at start)", ratioF(after.hwm, start.rss), ""},
		)

		// The big job: peak RSS reset first (clear_refs 5), sampled too.
		hwmReset := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0) == nil
		before, _ := readMem(pid)
		var peak atomic.Int64
		peak.Store(before.rss)
		done := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(20 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
					if m, err := readMem(pid); err == nil && m.rss > peak.Load() {
						peak.Store(m.rss)
					}
				}
			}
		}()
		c := newClient(s.url, 2)
		r, err := c.runJob(ctx, bigCmd, 50*time.Millisecond)
		close(done)
		wg.Wait()
		if err != nil {
			return fmt.Errorf("big job: %w", err)
		}
		b.problems = append(b.problems, checkResults("big job", []jobResult{r})...)
		end, err := readMem(pid)
		if err != nil {
			return err
		}
		logSize, err := c.outputSize(ctx, r.id, "process_output.log")
		if err != nil {
			b.problems = append(b.problems, "big job: "+err.Error())
		} else if logSize < o.big {
			b.problems = append(b.problems, fmt.Sprintf("big job: process_output.log is %d bytes, want ≥ %d", logSize, o.big))
		}
		hwmNote := "VmHWM after the big job (reset before it)"
		if !hwmReset {
			hwmNote = "VmHWM after the big job (could not reset: includes the jobs above)"
		}
		b.rows = append(b.rows,
			row{"3 memory", fmt.Sprintf("max VmRSS sampled every 20 ms while a job prints %s", human(o.big)), mib(peak.Load()), mib(start.rss) + " (at start)", ratioF(peak.Load(), start.rss), "small"},
			row{"3 memory", hwmNote, mib(end.hwm), mib(start.rss) + " (at start)", ratioF(end.hwm, start.rss), "small"},
			row{"3 memory", "VmRSS after the big job", mib(end.rss) + " " + split(end), mib(start.rss) + " (at start)", ratioF(end.rss, start.rss), ""},
			row{"3 memory", fmt.Sprintf("big job submit → Completed seen (process_output.log %s)", human(logSize)), ms(r.seen.Sub(r.submit)), ms(baseBig) + " (same pipe to a file, + sync)", ratio(r.seen.Sub(r.submit), baseBig), ""},
		)
		b.breakdowns = append(b.breakdowns, breakdownOf("big job ("+human(o.big)+" stdout)", []jobResult{r}))
		return nil
	})
	return err
}

// bwrapArgv wraps argv exactly as the server's sandbox does, with a run's
// mounts: a working directory, a writable scratch (HOME, TMPDIR) and a
// read-only support directory.
func bwrapArgv(bwrap, dir string, argv []string) ([]string, error) {
	m := worker.Mounts{Work: filepath.Join(dir, "work"), Writable: []string{filepath.Join(dir, "scratch")}, ReadOnly: []string{filepath.Join(dir, "scratch", "support")}}
	for _, d := range []string{m.Work, m.ReadOnly[0]} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	return worker.Bubblewrap{Path: bwrap}.Wrap(m, argv)
}

func execOnce(ctx context.Context, argv []string) error {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	return nil
}

func execLatency(ctx context.Context, argv []string, n int) ([]time.Duration, error) {
	for range 3 {
		if err := execOnce(ctx, argv); err != nil {
			return nil, err
		}
	}
	out := make([]time.Duration, n)
	for i := range out {
		d, err := timed(func() error { return execOnce(ctx, argv) })
		if err != nil {
			return nil, err
		}
		out[i] = d
	}
	return out, nil
}

// execThroughput is the throughput baseline: workers goroutines exec'ing
// argv until total runs are done; runs per second.
func execThroughput(ctx context.Context, argv []string, total, workers int) (float64, error) {
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(total) {
				if err := execOnce(ctx, argv); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	return float64(total) / time.Since(start).Seconds(), first
}

func timed(fn func() error) (time.Duration, error) {
	start := time.Now()
	err := fn()
	return time.Since(start), err
}

// The server.

type server struct {
	*exec.Cmd
	url, data string
	results   []jobResult
	exited    chan struct{}
}

// withServer starts a server on a fresh data directory under dir, runs fn
// and stops the server (SIGTERM, then SIGKILL after 10 s), returning fn's
// results.
func withServer(ctx context.Context, bin, dir string, args []string, fn func(*server) error) ([]jobResult, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	s, err := startServer(bin, dir, args)
	if err != nil {
		return nil, err
	}
	defer s.stop()
	done := make(chan error, 1)
	go func() { done <- fn(s) }()
	select {
	case err = <-done:
	case <-s.exited:
		err = fmt.Errorf("the server exited: %v\n%s", s.ProcessState, tail(filepath.Join(dir, "server.log"), 4000))
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		return nil, fmt.Errorf("%w\n(server log: %s)", err, tail(filepath.Join(dir, "server.log"), 2000))
	}
	return s.results, nil
}

func startServer(bin, dir string, args []string) (*server, error) {
	data := filepath.Join(dir, "data")
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--data", data, "--rate-limit", "0"}, args...)...)
	cmd.Env = append(os.Environ(), "RESCALE_LOCAL_API_KEY="+key)
	logFile, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child keeps its own descriptor
	cmd.Stderr = logFile
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{Cmd: cmd, data: data, exited: make(chan struct{})}
	urlc := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`listening on (http://\S+)`)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				urlc <- m[1]
			}
		}
		cmd.Wait()
		close(s.exited)
	}()
	select {
	case s.url = <-urlc:
		return s, nil
	case <-s.exited:
		return nil, fmt.Errorf("server exited: %v\n%s", cmd.ProcessState, tail(filepath.Join(dir, "server.log"), 4000))
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-s.exited
		return nil, errors.New("server did not start")
	}
}

func (s *server) stop() {
	s.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		s.Process.Kill()
		<-s.exited
	}
}

func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// The client.

type client struct {
	base string
	http *http.Client
}

func newClient(base string, conns int) *client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns, t.MaxIdleConnsPerHost = conns, conns
	return &client{base: base + "/api/v2", http: &http.Client{Transport: t, Timeout: 60 * time.Second}}
}

func (c *client) do(ctx context.Context, method, path string, body []byte, want int, v any) error {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, r)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Token "+key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if v != nil {
		return json.Unmarshal(b, v)
	}
	return nil
}

type status struct {
	Status string    `json:"status"`
	Date   time.Time `json:"statusDate"`
	Reason *string   `json:"statusReason"`
}

// jobResult is one job as a client saw it.
type jobResult struct {
	id           string
	submit, seen time.Time // before the submit request, when Completed was first seen
	submitDone   time.Time // the submit response
	statuses     []status  // oldest first
	polls        int
	reason       string
	// The run's dateStarted (the worker started the process) and
	// dateCompleted (it ended), when fetched.
	runStarted, runEnded time.Time
}

func (c *client) create(ctx context.Context, command string) (string, error) {
	body, _ := json.Marshal(map[string]any{"name": "bench", "jobanalyses": []any{map[string]any{
		"command":    command,
		"analysis":   map[string]any{"code": "user_included"},
		"hardware":   map[string]any{"coresPerSlot": 1, "slots": 1, "coreType": "standard-plus"},
		"inputFiles": []any{},
	}}})
	var job struct{ ID string }
	if err := c.do(ctx, "POST", "/jobs/", body, http.StatusCreated, &job); err != nil {
		return "", err
	}
	return job.ID, nil
}

func (c *client) statuses(ctx context.Context, id string) ([]status, error) {
	var page struct{ Results []status }
	if err := c.do(ctx, "GET", "/jobs/"+id+"/statuses/?page_size=100", nil, http.StatusOK, &page); err != nil {
		return nil, err
	}
	return page.Results, nil
}

// runJob creates a job (not timed), submits it and polls its statuses
// every poll until the newest is Completed.
func (c *client) runJob(ctx context.Context, command string, poll time.Duration) (jobResult, error) {
	id, err := c.create(ctx, command)
	if err != nil {
		return jobResult{}, err
	}
	r := jobResult{id: id, submit: time.Now()}
	if err := c.do(ctx, "POST", "/jobs/"+id+"/submit/", nil, http.StatusOK, nil); err != nil {
		return r, err
	}
	r.submitDone = time.Now()
	deadline := r.submit.Add(5 * time.Minute)
	for {
		st, err := c.statuses(ctx, id)
		if err != nil {
			return r, err
		}
		r.polls++
		if len(st) > 0 && st[0].Status == "Completed" {
			r.seen = time.Now()
			slices.Reverse(st)
			r.statuses = st
			if reason := st[len(st)-1].Reason; reason != nil {
				r.reason = *reason
			}
			return r, nil
		}
		if time.Now().After(deadline) {
			return r, fmt.Errorf("job %s not Completed after 5 minutes: %+v", id, st)
		}
		select {
		case <-ctx.Done():
			return r, ctx.Err()
		case <-time.After(poll):
		}
	}
}

// runConcurrent runs total jobs from clients goroutines, each looping
// create → submit → poll until Completed. elapsed is from the start to
// the last Completed seen.
func (c *client) runConcurrent(ctx context.Context, command string, total, clients int, poll time.Duration) ([]jobResult, error) {
	var next atomic.Int64
	var mu sync.Mutex
	var results []jobResult
	var first error
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(total) {
				r, err := c.runJob(ctx, command, poll)
				mu.Lock()
				if err != nil && first == nil {
					first = err
					cancel()
				}
				if err == nil {
					results = append(results, r)
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	return results, first
}

// runTimes fills r's run start and end from GET /jobs/{id}/runs/.
func (c *client) runTimes(ctx context.Context, r *jobResult) error {
	var page struct {
		Results []struct {
			Started   *time.Time `json:"dateStarted"`
			Completed *time.Time `json:"dateCompleted"`
		}
	}
	if err := c.do(ctx, "GET", "/jobs/"+r.id+"/runs/", nil, http.StatusOK, &page); err != nil {
		return err
	}
	if len(page.Results) == 1 && page.Results[0].Started != nil && page.Results[0].Completed != nil {
		r.runStarted, r.runEnded = *page.Results[0].Started, *page.Results[0].Completed
	}
	return nil
}

// outputSize is the size of one of the job's output files.
func (c *client) outputSize(ctx context.Context, id, rel string) (int64, error) {
	var page struct {
		Results []struct {
			RelativePath string `json:"relativePath"`
			Size         int64  `json:"decryptedSize"`
		}
	}
	if err := c.do(ctx, "GET", "/jobs/"+id+"/files/?page_size=1000", nil, http.StatusOK, &page); err != nil {
		return 0, err
	}
	for _, f := range page.Results {
		if f.RelativePath == rel {
			return f.Size, nil
		}
	}
	return 0, fmt.Errorf("job %s has no output %s", id, rel)
}

// checkResults names jobs that did not complete successfully.
func checkResults(what string, res []jobResult) []string {
	var out []string
	bad := 0
	for _, r := range res {
		if r.reason != "Completed successfully" {
			if bad < 5 {
				out = append(out, fmt.Sprintf("%s: job %s ended %q (statuses %s)", what, r.id, r.reason, seq(r.statuses)))
			}
			bad++
		}
	}
	if bad > 5 {
		out = append(out, fmt.Sprintf("%s: %d jobs in all did not complete successfully", what, bad))
	}
	return out
}

func seq(st []status) string {
	names := make([]string, len(st))
	for i, s := range st {
		names[i] = s.Status
	}
	return strings.Join(names, ",")
}

// Where the time goes.

// breakdown holds p50s of the steps of a job's life: client → server
// clocks are the same machine's.
type breakdown struct {
	name  string
	count int
	steps []step
}

type step struct {
	name     string
	n        int
	p50, p95 time.Duration
}

var lifeSteps = []string{"Pending", "Queued", "Started", "Validated", "Executing", "Completed"}

func breakdownOf(name string, res []jobResult) breakdown {
	type span struct {
		name     string
		from, to func(r jobResult, at map[string]time.Time) time.Time
	}
	status := func(name string) func(jobResult, map[string]time.Time) time.Time {
		return func(_ jobResult, at map[string]time.Time) time.Time { return at[name] }
	}
	field := func(f func(jobResult) time.Time) func(jobResult, map[string]time.Time) time.Time {
		return func(r jobResult, _ map[string]time.Time) time.Time { return f(r) }
	}
	submit := field(func(r jobResult) time.Time { return r.submit })
	seen := field(func(r jobResult) time.Time { return r.seen })
	runStarted := field(func(r jobResult) time.Time { return r.runStarted })
	runEnded := field(func(r jobResult) time.Time { return r.runEnded })
	spans := []span{{"submit sent → Pending", submit, status("Pending")}}
	for i := 1; i < len(lifeSteps); i++ {
		spans = append(spans, span{lifeSteps[i-1] + " → " + lifeSteps[i], status(lifeSteps[i-1]), status(lifeSteps[i])})
	}
	spans = append(spans,
		span{"… Executing → run's dateStarted", status("Executing"), runStarted},
		span{"… run's dateStarted → dateCompleted (the process)", runStarted, runEnded},
		span{"… run's dateCompleted → Completed", runEnded, status("Completed")},
		span{"Completed → seen by the client", status("Completed"), seen},
		span{"submit request (client)", submit, field(func(r jobResult) time.Time { return r.submitDone })},
		span{"Pending → Completed (server)", status("Pending"), status("Completed")},
		span{"submit sent → Completed seen (client)", submit, seen},
	)
	ds := make([][]time.Duration, len(spans))
	var polls []time.Duration
	for _, r := range res {
		at := map[string]time.Time{}
		for _, s := range r.statuses {
			if _, ok := at[s.Status]; !ok {
				at[s.Status] = s.Date
			}
		}
		for i, sp := range spans {
			if from, to := sp.from(r, at), sp.to(r, at); !from.IsZero() && !to.IsZero() {
				ds[i] = append(ds[i], to.Sub(from))
			}
		}
		polls = append(polls, time.Duration(r.polls))
	}
	b := breakdown{name: name, count: len(res)}
	for i, sp := range spans {
		b.steps = append(b.steps, step{sp.name, len(ds[i]), pct(ds[i], 50), pct(ds[i], 95)})
	}
	b.steps = append(b.steps, step{"status polls per job", len(polls), pct(polls, 50), pct(polls, 95)})
	return b
}

// pct is the nearest-rank percentile.
func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// Memory.

type mem struct{ rss, hwm, anon, file int64 } // bytes

func readMem(pid int) (mem, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return mem{}, fmt.Errorf("read the server's memory (Linux only): %w", err)
	}
	var m mem
	for _, line := range strings.Split(string(b), "\n") {
		for prefix, dst := range map[string]*int64{"VmRSS:": &m.rss, "VmHWM:": &m.hwm, "RssAnon:": &m.anon, "RssFile:": &m.file} {
			if v, ok := strings.CutPrefix(line, prefix); ok {
				kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				if err != nil {
					return mem{}, fmt.Errorf("%s %q: %w", prefix, v, err)
				}
				*dst = kb << 10
			}
		}
	}
	if m.rss == 0 {
		return mem{}, errors.New("no VmRSS in /proc status")
	}
	return m, nil
}

// split shows the anonymous (heap, stacks) and file-backed (binary, the
// store's mmap) parts of the resident set.
func split(m mem) string {
	return fmt.Sprintf("(anon %s, file %s)", mib(m.anon), mib(m.file))
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// usage measures, over a phase, the server's CPU time (its jobs'
// included), this benchmark's own (the clients), the machine's busy and
// stolen time, and the rate of completions early and late in the phase.
type usage struct {
	pid       int
	start     time.Time
	server    time.Duration
	self      time.Duration
	mach      machine
	serverErr error
}

type diag struct {
	name                string
	jobs                int
	elapsed             time.Duration
	serverCPU, selfCPU  time.Duration // per job
	busy, steal, iowait float64       // fraction of all cores
	firstRate, lastRate float64       // jobs/s of the first and the last 100 jobs (0: too few)
}

func startUsage(pid int) *usage {
	u := &usage{pid: pid, start: time.Now(), self: selfCPU(), mach: readMachine()}
	u.server, u.serverErr = cpuTime(pid)
	return u
}

func (u *usage) stop(name string, res []jobResult) diag {
	d := diag{name: name, jobs: len(res), elapsed: time.Since(u.start)}
	server, err := cpuTime(u.pid)
	m := readMachine()
	self := selfCPU()
	if n := time.Duration(max(1, len(res))); err == nil && u.serverErr == nil {
		d.serverCPU = (server - u.server) / n
		d.selfCPU = (self - u.self) / n
	}
	if total := float64(m.total - u.mach.total); total > 0 {
		d.busy = float64(m.busy-u.mach.busy) / total
		d.steal = float64(m.steal-u.mach.steal) / total
		d.iowait = float64(m.iowait-u.mach.iowait) / total
	}
	if n := len(res); n >= 200 {
		seen := make([]time.Time, n)
		for i, r := range res {
			seen[i] = r.seen
		}
		slices.SortFunc(seen, func(a, b time.Time) int { return a.Compare(b) })
		d.firstRate = 100 / seen[99].Sub(u.start).Seconds()
		d.lastRate = 100 / seen[n-1].Sub(seen[n-101]).Seconds()
	}
	return d
}

// machine holds /proc/stat's aggregate cpu line, in clock ticks.
type machine struct{ total, busy, steal, iowait int64 }

func readMachine() machine {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return machine{}
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return machine{}
	}
	var v [8]int64 // user nice system idle iowait irq softirq steal
	for i := range v {
		v[i], _ = strconv.ParseInt(f[i+1], 10, 64)
	}
	m := machine{steal: v[7], iowait: v[4]}
	for _, x := range v {
		m.total += x
	}
	m.busy = v[0] + v[1] + v[2] + v[5] + v[6]
	return m
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuTime is a process's user and system time, that of its waited-for
// children included (/proc/<pid>/stat fields 14–17, in clock ticks,
// assumed 100 per second).
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: count from its ')'.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	var ticks int64
	for _, s := range f[11:15] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, err
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}

// Formatting.

func ms(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

func human(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20:
		return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d B", n)
}

func ratio(a, b time.Duration) string {
	if b <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f×", float64(a)/float64(b))
}

func ratioF(a, b int64) string {
	if b <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f×", float64(a)/float64(b))
}

func printReport(w io.Writer, o options, quiet float64, rows []row, bds []breakdown, diags []diag, problems []string) {
	fmt.Fprintf(w, "\n%d latency jobs per mode (poll every %s), %d throughput jobs per mode with %d clients, %d jobs before the memory reading, big job %s; %d CPUs, %.0f%% busy in the second before the benchmark.\n\n",
		o.n, o.poll, o.jobs, o.clients, o.memJobs, human(o.big), runtime.NumCPU(), 100*quiet)
	fmt.Fprintln(w, "| | measure | platform | baseline (same run) | overhead / ratio | goal |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", r.section, r.measure, r.platform, r.baseline, r.ratio, r.goal)
	}
	if len(bds) > 0 {
		fmt.Fprintln(w, "\nWhere the time goes, p50 / p95 (statusDate of each status, the run's dateStarted/dateCompleted; client and server share the clock):")
		fmt.Fprintln(w)
		fmt.Fprint(w, "| step |")
		for _, b := range bds {
			fmt.Fprintf(w, " %s (%d jobs) |", b.name, b.count)
		}
		fmt.Fprint(w, "\n|---|")
		for range bds {
			fmt.Fprint(w, "---|")
		}
		fmt.Fprintln(w)
		for i, s := range bds[0].steps {
			fmt.Fprintf(w, "| %s |", s.name)
			for _, b := range bds {
				switch st := b.steps[i]; {
				case st.n == 0:
					fmt.Fprint(w, " — |")
				case st.name == "status polls per job":
					fmt.Fprintf(w, " %d / %d |", int64(st.p50), int64(st.p95))
				default:
					fmt.Fprintf(w, " %s / %s |", ms(st.p50), ms(st.p95))
				}
			}
			fmt.Fprintln(w)
		}
	}
	if len(diags) > 0 {
		fmt.Fprintln(w, "\nCPU per job and machine load during each phase (server CPU includes its jobs' processes; bench CPU is the clients'; busy/steal/iowait are shares of all CPUs; \"of which others\" is busy time neither the server, its jobs nor this benchmark used — other work on the machine):")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| phase | jobs | wall | server CPU/job | bench CPU/job | machine busy | of which others | steal | iowait | first 100 / last 100 jobs |")
		fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|")
		for _, d := range diags {
			rates := "—"
			if d.firstRate > 0 {
				rates = fmt.Sprintf("%.1f / %.1f jobs/s", d.firstRate, d.lastRate)
			}
			// What the server, its jobs and the clients used, as a share of
			// all CPUs; the rest of the busy time is other work.
			ours := float64((d.serverCPU+d.selfCPU)*time.Duration(d.jobs)) / float64(d.elapsed) / float64(runtime.NumCPU())
			fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %.0f%% | %.0f%% | %.1f%% | %.1f%% | %s |\n", d.name, d.jobs, d.elapsed.Round(10*time.Millisecond),
				ms(d.serverCPU), ms(d.selfCPU), 100*d.busy, 100*max(0, d.busy-ours), 100*d.steal, 100*d.iowait, rates)
		}
	}
	if len(problems) == 0 {
		fmt.Fprintln(w, "\nEvery job ended Completed with \"Completed successfully\".")
	} else {
		fmt.Fprintln(w, "\nProblems:")
		for _, p := range problems {
			fmt.Fprintln(w, "- "+p)
		}
	}
}
