package awsbatch_test

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/openrescale/platform/shared/blob/s3blob"
	"github.com/openrescale/platform/shared/blob/s3blob/s3local"
	"github.com/openrescale/platform/shared/compute/awsbatch"
	"github.com/openrescale/platform/shared/errs"
)

const livePrefix = "user/user_uowner/output/job_jlive/run1/"

// TestLive reads a running run's files as the agent uploads them, from an
// S3-protocol server.
func TestLive(t *testing.T) {
	b := s3blob.New(s3local.Start(t, "live-test"), "live-test")
	ctx := t.Context()
	var log strings.Builder
	for i := range 5000 { // longer than one backward read of the tail
		fmt.Fprintf(&log, "line %d\n", i)
	}
	objects := map[string]string{
		"process_output.log": log.String(),
		"out/a.txt":          "a\n",
		"out/deep/b.txt":     "b\n",
	}
	for rel, body := range objects {
		if _, err := b.Put(ctx, livePrefix+rel, strings.NewReader(body), ""); err != nil {
			t.Fatal(err)
		}
	}
	// Another run's outputs next to it are not this run's.
	if _, err := b.Put(ctx, "user/user_uowner/output/job_jlive/run10/x.txt", strings.NewReader("x"), ""); err != nil {
		t.Fatal(err)
	}
	l := awsbatch.NewLive(b, func(ctx context.Context, job, run string) (string, error) {
		if job == "jlive" && run == "1" {
			return livePrefix, nil
		}
		return "", errs.E(errs.NotFound, "run %s of job %s is not running", run, job)
	})

	list := func(rel string) (string, error) {
		es, err := l.List(ctx, "jlive", "1", rel)
		var parts []string
		for _, e := range es {
			if e.IsDir {
				parts = append(parts, e.Path+"/")
			} else {
				parts = append(parts, fmt.Sprintf("%s(%d)", e.Path, e.Size))
			}
		}
		return strings.Join(parts, " "), err
	}
	listTests := []struct {
		rel, want string
		code      string
	}{
		{rel: "", want: "out/ process_output.log(" + fmt.Sprint(log.Len()) + ")"},
		{rel: ".", want: "out/ process_output.log(" + fmt.Sprint(log.Len()) + ")"},
		{rel: "out", want: "out/a.txt(2) out/deep/"},
		{rel: "out/deep/", want: "out/deep/b.txt(2)"},
		{rel: "missing", code: errs.NotFound},
		{rel: "process_output.log", code: errs.Invalid},
		{rel: "../run10", code: errs.Invalid},
		{rel: "/etc", code: errs.Invalid},
	}
	for _, tc := range listTests {
		got, err := list(tc.rel)
		if tc.code != "" {
			if !errs.Is(err, tc.code) {
				t.Errorf("List %q: %v, want %s", tc.rel, err, tc.code)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("List %q = %q, %v; want %q", tc.rel, got, err, tc.want)
		}
	}

	tailTests := []struct {
		rel   string
		lines int
		want  string
		code  string
	}{
		{rel: "process_output.log", lines: 3, want: "line 4997\nline 4998\nline 4999\n"},
		{rel: "process_output.log", lines: 5000, want: log.String()},
		{rel: "out/a.txt", lines: 10, want: "a\n"},
		{rel: "nothing.log", lines: 3, code: errs.NotFound},
		{rel: "out/../../run10/x.txt", lines: 3, code: errs.Invalid},
		{rel: "", lines: 3, code: errs.Invalid},
	}
	for _, tc := range tailTests {
		var buf bytes.Buffer
		err := l.Tail(ctx, "jlive", "1", tc.rel, tc.lines, &buf)
		if tc.code != "" {
			if !errs.Is(err, tc.code) {
				t.Errorf("Tail %q: %v, want %s", tc.rel, err, tc.code)
			}
			continue
		}
		if err != nil || buf.String() != tc.want {
			t.Errorf("Tail %q %d = %.80q, %v; want %.80q", tc.rel, tc.lines, buf.String(), err, tc.want)
		}
	}

	r, err := l.Open(ctx, "jlive", "1", "out/deep/b.txt")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(r)
	r.Close()
	if string(body) != "b\n" {
		t.Fatalf("Open = %q", body)
	}

	var zbuf bytes.Buffer
	if err := l.Snapshot(ctx, "jlive", "1", &zbuf); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(zbuf.Bytes()), int64(zbuf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		got[f.Name] = string(b)
	}
	if len(got) != len(objects) {
		t.Fatalf("snapshot holds %d files, want %d", len(got), len(objects))
	}
	for rel, want := range objects {
		if got[rel] != want {
			t.Fatalf("snapshot's %s = %.40q, want %.40q", rel, got[rel], want)
		}
	}

	// A run that is not running has nothing to show.
	if _, err := l.List(ctx, "jlive", "2", ""); !errs.Is(err, errs.NotFound) {
		t.Errorf("List of a run not running: %v", err)
	}
	if err := l.Tail(ctx, "jother", "1", "process_output.log", 1, io.Discard); !errs.Is(err, errs.NotFound) {
		t.Errorf("Tail of a run not running: %v", err)
	}
	if _, err := l.Open(ctx, "jother", "1", "out/a.txt"); !errs.Is(err, errs.NotFound) {
		t.Errorf("Open of a run not running: %v", err)
	}
	if err := l.Snapshot(ctx, "jother", "1", io.Discard); !errs.Is(err, errs.NotFound) {
		t.Errorf("Snapshot of a run not running: %v", err)
	}
}

// describedWithPrefix is DescribeJobs' answer for a run's Batch job with
// the parameters the adapter submits.
func describedWithPrefix(id, status, prefix string) *http.Response {
	return response(200, nil, fmt.Sprintf(`{"jobs":[{"jobArn":"arn:aws:batch:us-east-1:123456789012:job/%s","jobName":"job-jlive-run1",`+
		`"jobId":%q,"jobQueue":"emerald-queue","status":%q,"createdAt":1700000000000,"startedAt":1700000060000,`+
		`"jobDefinition":"agent-single:3","parameters":{"rescaleJobId":"jlive","rescaleRunId":"1","rescaleOwnerId":"uowner","rescaleOutputPrefix":%q},"attempts":[]}]}`,
		id, id, status, prefix))
}

// TestRunningPrefix: the output prefix of a run whose Batch job has not
// finished, from the job's parameters. At the HTTP layer: moto finishes
// every job at once, so no job of its stays RUNNING.
func TestRunningPrefix(t *testing.T) {
	for _, tc := range []struct {
		status string
		want   string // "" is NotFound
	}{
		{"RUNNING", livePrefix},
		{"STARTING", livePrefix},
		{"SUCCEEDED", ""},
		{"FAILED", ""},
	} {
		t.Run(tc.status, func(t *testing.T) {
			api := &batchAPI{answer: func(op string, _ []byte) *http.Response {
				if op == "describejobs" {
					return describedWithPrefix("b-7", tc.status, livePrefix)
				}
				return submitted("b-7", "job-jlive-run1")
			}}
			c := httpCompute(t, api, nil)
			if _, err := c.RunningPrefix(t.Context(), "jlive", "1"); !errs.Is(err, errs.NotFound) {
				t.Fatalf("a run never started: %v", err)
			}
			r := runOf("jlive", "1")
			r.OutputPrefix = livePrefix
			if err := c.StartRun(t.Context(), r); err != nil {
				t.Fatal(err)
			}
			got, err := c.RunningPrefix(t.Context(), "jlive", "1")
			if tc.want == "" {
				if !errs.Is(err, errs.NotFound) {
					t.Fatalf("%s: %q, %v; want NotFound", tc.status, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("%s: %q, %v; want %q", tc.status, got, err, tc.want)
			}
		})
	}
}
