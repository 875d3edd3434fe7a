package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/openrescale/platform/client"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
)

func (m *Main) downloadCommand(g *globals) *cobra.Command {
	var (
		job, run, search, out string
		parallel              int
		chunk                 int64
	)
	cmd := &cobra.Command{
		Use:   "download FILE_ID... | --job JOB_ID [--run N]",
		Short: "Download files, or a job's outputs (ranges, resume, parallel)",
		Long: `Download files by id, or every output file of a job (of one run with --run;
--search narrows them by relative path). A file is written to <name>.part
with a state file beside it and renamed once its md5 matches the record, so
an interrupted download started again continues where it stopped; a file
already downloaded is skipped. One file is read in --parallel ranges at
once; a job's files are downloaded --parallel files at once, each keeping
its relative path under -o (default ./JOB_ID).`,
		Args: func(cmd *cobra.Command, args []string) error {
			if (job == "") == (len(args) == 0) {
				return usageError{errors.New("download: give file ids or --job, not both")}
			}
			if job == "" && (run != "" || search != "") {
				return usageError{errors.New("download: --run and --search need --job")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client(g)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			opt := client.DownloadOptions{Parallel: max(parallel, 1), ChunkSize: chunk}
			var results []client.DownloadResult
			if job != "" {
				results, err = m.downloadJob(ctx, g, c, job, run, search, out, opt)
			} else {
				results, err = m.downloadFiles(ctx, g, c, args, out, opt)
			}
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(m.Stdout, results)
			}
			t := newTable(m.Stdout, "ID", "PATH", "SIZE", "")
			for _, r := range results {
				how := ""
				switch {
				case r.Skipped:
					how = "already there"
				case r.Resumed:
					how = "resumed"
				}
				t.row(r.File.ID, r.Path, humanSize(r.File.Size), how)
			}
			return t.flush()
		},
	}
	f := cmd.Flags()
	f.StringVar(&job, "job", "", "download this job's output files")
	f.StringVar(&run, "run", "", "with --job: only this run's files")
	f.StringVar(&search, "search", "", "with --job: only files whose relative path contains this")
	f.StringVarP(&out, "output", "o", "", "file or directory to write to (default: the file's name; ./JOB_ID for --job)")
	f.IntVar(&parallel, "parallel", client.DefaultParallel, "ranges (one file) or files (--job) at once")
	f.Var(sizeFlag{&chunk}, "chunk-size", "bytes per range request (default 8MiB)")
	return cmd
}

func (m *Main) downloadFiles(ctx context.Context, g *globals, c *client.Client, ids []string, out string, opt client.DownloadOptions) ([]client.DownloadResult, error) {
	var results []client.DownloadResult
	outIsDir := len(ids) > 1 || strings.HasSuffix(out, "/")
	if st, err := os.Stat(out); err == nil && st.IsDir() {
		outIsDir = true
	}
	if len(ids) > 1 && out != "" {
		if err := os.MkdirAll(out, 0o755); err != nil {
			return nil, err
		}
	}
	for _, id := range ids {
		f, err := c.GetFile(ctx, id)
		if err != nil {
			return results, fmt.Errorf("file %s: %w", id, err)
		}
		name := filepath.Base(filepath.FromSlash(f.Name))
		if name == "." || name == ".." || name == string(filepath.Separator) {
			return results, fmt.Errorf("file %s has no usable name (%q): pass -o", id, f.Name)
		}
		dest := name
		switch {
		case outIsDir:
			dest = filepath.Join(out, name)
		case out != "":
			dest = out
		}
		b := m.bar(g, "download "+name)
		o := opt
		o.Progress = progress(b)
		r, err := c.Download(ctx, f, dest, o)
		if b != nil {
			b.Done(err == nil)
		}
		if err != nil {
			return results, fmt.Errorf("download %s: %w", id, err)
		}
		results = append(results, r)
	}
	return results, nil
}

var runInPath = regexp.MustCompile(`/output/job_[^/]+/run([^/]+)/`)

// localPath is where a job's output goes under dir: its relative path,
// under run<N>/ when the job's files come from several runs. Paths that
// would leave dir are refused.
func localPath(dir string, f client.File, withRun bool) (string, error) {
	rel := f.RelativePath
	if rel == "" {
		rel = f.Name
	}
	clean := path.Clean("/" + rel)[1:]
	if clean == "" || strings.Contains(rel, "\\") || path.IsAbs(rel) || clean != strings.TrimPrefix(rel, "./") {
		return "", fmt.Errorf("output %s has an unsafe relative path %q", f.ID, rel)
	}
	if withRun {
		if mm := runInPath.FindStringSubmatch(f.Path); mm != nil {
			clean = "run" + mm[1] + "/" + clean
		}
	}
	return filepath.Join(dir, filepath.FromSlash(clean)), nil
}

func (m *Main) downloadJob(ctx context.Context, g *globals, c *client.Client, job, run, search, out string, opt client.DownloadOptions) ([]client.DownloadResult, error) {
	files, err := c.JobFiles(ctx, job, run, search)
	if err != nil {
		return nil, fmt.Errorf("outputs of job %s: %w", job, err)
	}
	if len(files) == 0 {
		m.note(g, "job %s has no output files%s", job, map[bool]string{true: " (yet: they appear when a run ends)", false: ""}[run == "" && search == ""])
		return []client.DownloadResult{}, nil
	}
	if out == "" {
		out = job
	}
	runs := map[string]bool{}
	var total int64
	for _, f := range files {
		if mm := runInPath.FindStringSubmatch(f.Path); mm != nil {
			runs[mm[1]] = true
		}
		total += f.Size
	}
	dests := make([]string, len(files))
	for i, f := range files {
		if dests[i], err = localPath(out, f, len(runs) > 1); err != nil {
			return nil, err
		}
	}
	b := m.bar(g, fmt.Sprintf("download %d files", len(files)))
	if b != nil {
		b.Begin(total, 0)
	}
	results := make([]client.DownloadResult, len(files))
	var mu sync.Mutex
	eg, ectx := errgroup.WithContext(ctx)
	eg.SetLimit(opt.Parallel)
	for i, f := range files {
		eg.Go(func() error {
			o := opt
			o.Parallel = 1 // the files are the parallel part
			if b != nil {
				o.Progress = sharedBar{b}
			}
			r, err := c.Download(ectx, f, dests[i], o)
			if err != nil {
				return fmt.Errorf("download %s (%s): %w", f.ID, f.RelativePath, err)
			}
			mu.Lock()
			results[i] = r
			mu.Unlock()
			return nil
		})
	}
	err = eg.Wait()
	if b != nil {
		b.Done(err == nil)
	}
	return results, err
}
