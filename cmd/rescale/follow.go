package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/openrescale/platform/client"
)

// logName is the run's stdout and stderr, in its working directory while
// it runs and among its outputs after.
const logName = "process_output.log"

// follow prints the job's statuses as they come and the live tail of the
// run's log while it executes, then the rest of the log from the outputs;
// it returns exitError with the job's result.
func (m *Main) follow(ctx context.Context, g *globals, c *client.Client, id string, o followOptions) error {
	ev := m.events(g)
	seen := map[string]bool{}
	lf := &logFollower{}
	for {
		st, err := c.Statuses(ctx, id)
		if err != nil {
			return err
		}
		if len(st) == 0 {
			if _, err := c.GetJob(ctx, id); err != nil {
				return err
			}
			return fmt.Errorf("job %s is saved but not submitted: nothing to follow", id)
		}
		latest := st[0]
		done := latest.Status == client.StatusCompleted
		for i := len(st) - 1; i >= 0; i-- {
			key := st[i].ID
			if key == "" {
				key = strconv.Itoa(len(st) - 1 - i)
			}
			if !seen[key] && !(done && i == 0) {
				seen[key] = true
				ev.status(st[i])
			}
		}
		if done {
			// The rest of the log before the final status.
			if !o.noLog {
				if err := m.finishLog(ctx, c, id, o.run, lf, ev); err != nil {
					m.note(g, "rescale: the log of job %s: %v", id, err)
				}
			}
			ev.status(latest)
			code := exitCodeOf(latest.ReasonText())
			ev.end(id, latest, code)
			if code != 0 {
				return exitError{code}
			}
			return nil
		}
		if !o.noLog && (latest.Status == client.StatusExecuting || latest.Status == "Stopping") {
			t, err := c.TailRun(ctx, id, o.run, logName, o.lines)
			switch {
			case err == nil:
				for _, line := range lf.feed(t.Lines, o.lines) {
					ev.log(line)
				}
			case client.IsStatus(err, http.StatusConflict), client.IsStatus(err, http.StatusNotFound), client.IsStatus(err, http.StatusServiceUnavailable):
				// Not running (yet, or any more), no log yet, or a
				// deployment that cannot read live files: the outputs
				// have the log at the end.
			default:
				return err
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(o.interval):
		}
	}
}

// finishLog prints what the live tail did not show of the run's log, from
// the job's outputs.
func (m *Main) finishLog(ctx context.Context, c *client.Client, id, run string, lf *logFollower, ev events) error {
	files, err := c.JobFiles(ctx, id, run, logName)
	if err != nil {
		return err
	}
	for _, f := range files {
		if f.RelativePath != logName {
			continue
		}
		r, err := c.Open(ctx, f.ID)
		if err != nil {
			return err
		}
		defer r.Close()
		return lf.finish(r, ev.log)
	}
	return nil // no log: shut down, or failed before it ran
}

var exitedWith = regexp.MustCompile(`exited with code (-?\d+)`)

// exitCodeOf maps a Completed job's statusReason to an exit status: 0 for
// success, the command's code when the reason names one, else 1.
func exitCodeOf(reason string) int {
	if reason == client.ReasonSuccess {
		return 0
	}
	if mm := exitedWith.FindStringSubmatch(reason); mm != nil {
		if n, err := strconv.Atoi(mm[1]); err == nil && n > 0 && n < 256 {
			return n
		}
	}
	return 1
}

// events prints what following sees: lines for people, or JSON lines.
type events struct {
	w    io.Writer
	json bool
}

func (m *Main) events(g *globals) events { return events{w: m.Stdout, json: g.json} }

func (e events) emit(v map[string]any) {
	b, _ := json.Marshal(v)
	fmt.Fprintf(e.w, "%s\n", b)
}

func (e events) status(s client.Status) {
	if e.json {
		e.emit(map[string]any{"type": "status", "status": s.Status, "statusDate": s.Date, "statusReason": s.Reason})
		return
	}
	line := "==> " + shortTime(s.Date) + "  " + s.Status
	if r := s.ReasonText(); r != "" {
		line += ": " + r
	}
	fmt.Fprintln(e.w, line)
}

func (e events) log(line string) {
	if e.json {
		e.emit(map[string]any{"type": "log", "line": line})
		return
	}
	fmt.Fprintln(e.w, line)
}

func (e events) end(id string, s client.Status, code int) {
	if e.json {
		e.emit(map[string]any{"type": "end", "job": id, "status": s.Status, "statusReason": s.Reason, "exitCode": code})
		return
	}
	if code == 0 {
		fmt.Fprintf(e.w, "==> job %s completed successfully\n", id)
	} else {
		fmt.Fprintf(e.w, "==> job %s failed (exit status %d): %s\n", id, code, s.ReasonText())
	}
}

// logFollower turns successive tails of a growing log (its last N lines
// each time) into the lines not printed yet.
//
// A window shorter than N is the whole file, so what is new is exact. A
// full window is aligned with the lines printed last: the longest suffix
// of those that starts the window. Lines that repeat can make that
// alignment ambiguous; the end of the log comes from the outputs, counted
// by lines when the count is known. The last line of a window may be
// half-written: it is held back until a later poll shows it unchanged or
// followed by more.
type logFollower struct {
	shown    []string // the last lines printed, at most keep
	count    int      // lines printed
	anchored bool     // count is exactly the file's lines printed
	started  bool
	prev     []string // the previous window
	gap      bool     // lines were skipped (printed once)
	run      int      // lines printed since the last skip
}

const keepShown = 10000

func equalLines(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func (f *logFollower) push(lines []string) {
	f.count += len(lines)
	f.run += len(lines)
	f.shown = append(f.shown, lines...)
	if len(f.shown) > keepShown {
		f.shown = append([]string(nil), f.shown[len(f.shown)-keepShown:]...)
	}
}

// feed takes a window of at most max lines and returns the lines to print.
func (f *logFollower) feed(window []string, max int) []string {
	if !f.started {
		f.started, f.anchored = true, true
	}
	stable := equalLines(window, f.prev)
	f.prev = append([]string(nil), window...)
	cand := window
	if !stable && len(cand) > 0 {
		cand = cand[:len(cand)-1] // the last line may be incomplete
	}
	full := len(window) >= max
	var out []string
	switch {
	case !full && f.anchored:
		// The window is the file: lines count from its start.
		if len(cand) <= f.count {
			return nil
		}
		out = cand[f.count:]
		if f.count > 0 && len(f.shown) > 0 {
			last := f.shown[len(f.shown)-1]
			if now := cand[f.count-1]; now != last && strings.HasPrefix(now, last) {
				// A line printed while half-written has grown.
				out = append([]string{now[len(last):]}, out...)
			}
		}
	default:
		o := overlap(f.shown, cand)
		var marker []string
		if o == 0 && (len(f.shown) > 0 || full) {
			f.anchored, f.run = false, 0
			if !f.gap {
				f.gap = true
				marker = []string{"[… earlier lines of the log are not shown; all of it is in the job's outputs]"}
			}
		}
		out = cand[o:]
		f.push(out)
		return append(marker, out...)
	}
	f.push(out)
	return out
}

// overlap is the length of the longest suffix of shown that is a prefix
// of window (its last line may have grown since it was printed).
func overlap(shown, window []string) int {
	for o := min(len(shown), len(window)); o > 0; o-- {
		s := shown[len(shown)-o:]
		ok := true
		for i := 0; i < o; i++ {
			if s[i] != window[i] && !(i == o-1 && strings.HasPrefix(window[i], s[i])) {
				ok = false
				break
			}
		}
		if ok {
			return o
		}
	}
	return 0
}

// finish reads the whole log and prints the lines after those shown.
func (f *logFollower) finish(r io.Reader, print func(string)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	if f.anchored || !f.started {
		n := 0
		var last string
		if len(f.shown) > 0 {
			last = f.shown[len(f.shown)-1]
		}
		for sc.Scan() {
			line := sc.Text()
			n++
			switch {
			case n < f.count:
			case n == f.count:
				if line != last && strings.HasPrefix(line, last) {
					print(line[len(last):])
				}
			default:
				print(line)
			}
		}
		return sc.Err()
	}
	// Not anchored: find where the lines shown last end in the file.
	var all []string
	for sc.Scan() {
		all = append(all, sc.Text())
	}
	if err := sc.Err(); err != nil {
		return err
	}
	tail := f.shown[len(f.shown)-min(50, f.run, len(f.shown)):]
	for end := len(all); end >= len(tail) && len(tail) > 0; end-- {
		if equalLines(all[end-len(tail):end], tail) {
			for _, l := range all[end:] {
				print(l)
			}
			return nil
		}
	}
	print("[… the log as saved in the outputs:]")
	for _, l := range all {
		print(l)
	}
	return nil
}
