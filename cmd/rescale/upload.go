package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/openrescale/platform/client"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// uploadFlags are shared by upload and jobs submit.
type uploadFlags struct {
	parallel  int
	partSize  int64
	threshold int64
	typeID    int
	folder    string
	stateDir  string
}

func (u *uploadFlags) add(fs *pflag.FlagSet) {
	fs.IntVar(&u.parallel, "parallel", client.DefaultParallel, "parts sent at once")
	fs.Var(sizeFlag{&u.partSize}, "part-size", "multipart part size (default: the server's; at least 5MiB)")
	u.threshold = client.DefaultMultipartThreshold
	fs.Var(sizeFlag{&u.threshold}, "multipart-threshold", "files larger than this go through resumable multipart uploads")
	fs.IntVar(&u.typeID, "type-id", 0, "file type id (default 1, input file)")
	fs.StringVar(&u.folder, "folder", "", "folder id to upload into (default MyLibrary)")
	fs.StringVar(&u.stateDir, "state-dir", "", "where multipart uploads keep their resume state (default ~/.local/state/rescale/uploads)")
}

func (u *uploadFlags) options(m *Main) client.UploadOptions {
	dir := u.stateDir
	if dir == "" {
		dir = m.stateDir()
	}
	return client.UploadOptions{
		FileOptions:        client.FileOptions{TypeID: u.typeID, FolderID: u.folder},
		MultipartThreshold: u.threshold,
		PartSize:           u.partSize,
		Parallel:           max(u.parallel, 1),
		StateDir:           dir,
	}
}

func (m *Main) uploadCommand(g *globals) *cobra.Command {
	var u uploadFlags
	var name string
	cmd := &cobra.Command{
		Use:   "upload FILE...",
		Short: "Upload files (large ones resumably, in parallel parts)",
		Long: `Upload files to the platform. Files over --multipart-threshold go through a
resumable multipart session: parts are sent --parallel at once, and when an
upload is interrupted (Ctrl-C, a lost connection, a crash) running the same
command again sends only the parts the server does not have. The server's md5
is checked against the local file's.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{errors.New("upload: name at least one file")}
			}
			if name != "" && len(args) > 1 {
				return usageError{errors.New("upload: --name needs exactly one file")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client(g)
			if err != nil {
				return err
			}
			var results []client.UploadResult
			for _, path := range args {
				opt := u.options(m)
				opt.Name = name
				r, err := m.upload(cmd.Context(), g, c, path, opt)
				if err != nil {
					return err
				}
				results = append(results, r)
			}
			if g.json {
				return printJSON(m.Stdout, results)
			}
			t := newTable(m.Stdout, "ID", "NAME", "SIZE", "MD5")
			for _, r := range results {
				t.row(r.File.ID, r.File.Name, humanSize(r.File.Size), r.File.MD5)
			}
			return t.flush()
		},
	}
	u.add(cmd.Flags())
	cmd.Flags().StringVar(&name, "name", "", "name of the uploaded file (default: the local name)")
	return cmd
}

// upload sends one file with a progress bar and notes on resuming.
func (m *Main) upload(ctx context.Context, g *globals, c *client.Client, path string, opt client.UploadOptions) (client.UploadResult, error) {
	label := opt.Name
	if label == "" {
		label = filepath.Base(path)
	}
	b := m.bar(g, "upload "+label)
	opt.Progress = progress(b)
	r, err := c.Upload(ctx, path, opt)
	if b != nil {
		b.Done(err == nil)
	}
	if err != nil {
		if r.UploadID != "" && ctx.Err() != nil {
			m.note(g, "upload of %s interrupted after %d of its bytes were sent; run the same command again to resume", path, r.SentBytes)
		}
		return r, fmt.Errorf("upload %s: %w", path, err)
	}
	if r.ResumedParts > 0 {
		m.note(g, "%s: resumed upload %s, %d of %d parts were already on the server", path, r.UploadID, r.ResumedParts, r.Parts)
	}
	return r, nil
}
