package awsbatch

import (
	"archive/zip"
	"context"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/openrescale/platform/shared/blob"
	"github.com/openrescale/platform/shared/compute"
	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/worker"
)

// PrefixFunc returns the output prefix of a running run, errs.NotFound if
// the run is not running. (*Compute).RunningPrefix is the deployment's.
type PrefixFunc func(ctx context.Context, jobID, runID string) (string, error)

// Live is compute.Live in AWS, where a run's working directory is on a
// Batch instance no function can reach: it reads what the job agent
// uploads under the run's output prefix while the run runs. That is
// process_output.log, uploaded every few seconds (cmd/agent); the other
// files of the working directory appear only when the run ends and its
// outputs are uploaded. Directories are the keys' "/"-separated prefixes.
type Live struct {
	bucket blob.Bucket
	prefix PrefixFunc
}

var _ compute.Live = (*Live)(nil)

// NewLive returns the Live over bucket (the deployment's data bucket, an
// s3blob.Bucket) that finds runs with prefix.
func NewLive(bucket blob.Bucket, prefix PrefixFunc) *Live {
	return &Live{bucket: bucket, prefix: prefix}
}

// RunningPrefix is the PrefixFunc over Batch: the output prefix among the
// parameters of the run's current Batch job, while that job has not
// finished.
func (c *Compute) RunningPrefix(ctx context.Context, jobID, runID string) (string, error) {
	notRunning := errs.E(errs.NotFound, "run %s of job %s is not running", runID, jobID)
	r, _, err := c.getRun(ctx, jobID, runID)
	if errs.Is(err, errs.NotFound) {
		return "", notRunning
	}
	if err != nil {
		return "", err
	}
	if r.BatchJobID == "" {
		return "", notRunning // still being submitted
	}
	d, found, err := c.describe(ctx, r.BatchJobID)
	if err != nil {
		return "", err
	}
	if !found || terminal(d.Status) {
		return "", notRunning
	}
	p := d.Parameters[ParamOutputPrefix]
	if p == "" || !strings.HasSuffix(p, "/") {
		return "", fmt.Errorf("batch job %s of run %s of job %s has no output prefix parameter", aws.ToString(d.JobId), runID, jobID)
	}
	return p, nil
}

// key checks a path asked of the run and returns its object key ("" and
// "." are the working directory itself, the prefix).
func (l *Live) key(ctx context.Context, jobID, runID, rel string) (prefix, key string, err error) {
	prefix, err = l.prefix(ctx, jobID, runID)
	if err != nil {
		return "", "", err
	}
	if rel == "" || rel == "." {
		return prefix, prefix, nil
	}
	clean := path.Clean(rel)
	if path.IsAbs(rel) || clean == ".." || strings.HasPrefix(clean, "../") {
		return "", "", errs.Field("path", "path %q is outside the run's working directory", rel)
	}
	if clean == "." {
		return prefix, prefix, nil
	}
	if !blob.ValidKey(prefix + clean) {
		return "", "", errs.Field("path", "path %q is not a valid file path", rel)
	}
	return prefix, prefix + clean, nil
}

// List lists a directory of the run as far as its files have been
// uploaded, sorted by name.
func (l *Live) List(ctx context.Context, jobID, runID, rel string) ([]compute.Entry, error) {
	prefix, key, err := l.key(ctx, jobID, runID, rel)
	if err != nil {
		return nil, err
	}
	dir := key
	if dir != prefix {
		dir += "/"
	}
	relDir := strings.TrimPrefix(dir, prefix)
	var out []compute.Entry
	seen := map[string]bool{}
	err = l.bucket.List(ctx, dir, func(a blob.Attrs) error {
		rest := strings.TrimPrefix(a.Key, dir)
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			name := rest[:i]
			if !seen[name] {
				seen[name] = true
				out = append(out, compute.Entry{Path: relDir + name, IsDir: true})
			}
			return nil
		}
		out = append(out, compute.Entry{Path: relDir + rest, Size: a.Size, ModTime: a.ModTime})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 && dir != prefix {
		if _, err := l.bucket.Stat(ctx, key); err == nil {
			return nil, errs.Field("path", "%q is not a directory", rel)
		}
		return nil, errs.E(errs.NotFound, "no directory %q in the run's working directory", rel)
	}
	slices.SortFunc(out, func(a, b compute.Entry) int { return strings.Compare(a.Path, b.Path) })
	if out == nil {
		out = []compute.Entry{}
	}
	return out, nil
}

// stat finds a file of the run.
func (l *Live) stat(ctx context.Context, jobID, runID, rel string) (blob.Attrs, error) {
	prefix, key, err := l.key(ctx, jobID, runID, rel)
	if err != nil {
		return blob.Attrs{}, err
	}
	if key == prefix {
		return blob.Attrs{}, errs.Field("path", "%q is not a regular file", rel)
	}
	a, err := l.bucket.Stat(ctx, key)
	if errs.Is(err, errs.NotFound) {
		return blob.Attrs{}, errs.E(errs.NotFound, "no file %q in the run's working directory (yet)", rel)
	}
	return a, err
}

// Tail writes the last lines of a file of the run, reading only its end.
func (l *Live) Tail(ctx context.Context, jobID, runID, rel string, lines int, w io.Writer) error {
	a, err := l.stat(ctx, jobID, runID, rel)
	if err != nil {
		return err
	}
	// The agent replaces the log with a longer copy of itself: the first
	// a.Size bytes stay the same across versions.
	return worker.TailReader(objectReader{ctx: ctx, bucket: l.bucket, key: a.Key}, a.Size, lines, w)
}

// Open reads a whole file of the run.
func (l *Live) Open(ctx context.Context, jobID, runID, rel string) (io.ReadCloser, error) {
	a, err := l.stat(ctx, jobID, runID, rel)
	if err != nil {
		return nil, err
	}
	return l.bucket.NewRangeReader(ctx, a.Key, 0, a.Size)
}

// Snapshot writes a zip of the run's uploaded files.
func (l *Live) Snapshot(ctx context.Context, jobID, runID string, w io.Writer) error {
	prefix, _, err := l.key(ctx, jobID, runID, "")
	if err != nil {
		return err
	}
	var files []blob.Attrs
	if err := l.bucket.List(ctx, prefix, func(a blob.Attrs) error {
		files = append(files, a)
		return nil
	}); err != nil {
		return err
	}
	zw := zip.NewWriter(w)
	for _, a := range files {
		r, err := l.bucket.NewRangeReader(ctx, a.Key, 0, a.Size)
		if errs.Is(err, errs.NotFound) {
			continue // removed since the listing
		}
		if err != nil {
			return err
		}
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: strings.TrimPrefix(a.Key, prefix), Method: zip.Deflate, Modified: a.ModTime})
		if err == nil {
			_, err = io.Copy(fw, r)
		}
		r.Close()
		if err != nil {
			return err
		}
	}
	return zw.Close()
}

// objectReader reads an object by ranges, for the tail's backward search.
type objectReader struct {
	ctx    context.Context
	bucket blob.Bucket
	key    string
}

func (o objectReader) ReadAt(p []byte, off int64) (int, error) {
	r, err := o.bucket.NewRangeReader(o.ctx, o.key, off, int64(len(p)))
	if err != nil {
		return 0, err
	}
	defer r.Close()
	n, err := io.ReadFull(r, p)
	if err == io.ErrUnexpectedEOF {
		err = io.EOF
	}
	return n, err
}
