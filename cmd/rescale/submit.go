package main

import (
	"archive/zip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/openrescale/platform/client"
	"github.com/spf13/cobra"
)

// submitFlags build a job from flags, over an optional JSON file.
type submitFlags struct {
	file         string
	path         string
	inputs       []string
	inputIDs     []string
	name         string
	analysis     string
	version      string
	command      string
	coreType     string
	coresPerSlot int
	slots        int
	walltime     int
	env          []string
	mpi          bool
	noSubmit     bool
	follow       bool
}

func (m *Main) jobsSubmitCommand(g *globals) *cobra.Command {
	var s submitFlags
	var u uploadFlags
	var fo followOptions
	cmd := &cobra.Command{
		Use:   "submit [-f job.json] [--path DIR] [--input FILE]... [flags]",
		Short: "Create a job (uploading its local inputs first) and submit it",
		Long: `Create a job and submit it. The job is the JSON of POST /api/v2/jobs/ from
-f (or - for stdin), with the flags applied over it; flags about the
analysis change its first jobanalyses entry. Local inputs are uploaded
first (as every upload: large ones resumably) and added to its inputFiles:
--path DIR zips the directory's contents into DIR.zip, which the job unpacks
into its working directory, and each --input is a file (a directory is
zipped the same way). Without a JSON file the analysis defaults to
user_included on standard-plus. Prints the job id (--json: the job).

  rescale jobs submit --path ./case --command './run.sh' --follow`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client(g)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			body, err := s.job()
			if err != nil {
				return err
			}
			ids, err := m.uploadInputs(ctx, g, c, &s, &u)
			if err != nil {
				return err
			}
			if err := addInputs(body, ids); err != nil {
				return err
			}
			data, err := json.Marshal(body)
			if err != nil {
				return err
			}
			job, err := c.CreateJob(ctx, data)
			if err != nil {
				return fmt.Errorf("create job: %w", err)
			}
			m.note(g, "created job %s (%s)", job.ID, job.Name)
			if !s.noSubmit {
				if err := c.SubmitJob(ctx, job.ID); err != nil {
					return fmt.Errorf("submit job %s: %w", job.ID, err)
				}
				m.note(g, "submitted job %s", job.ID)
			}
			if s.follow && !s.noSubmit {
				if g.json {
					// The job first, then the follow events, all JSON lines.
					fmt.Fprintf(m.Stdout, "%s\n", job.Raw)
				} else {
					fmt.Fprintln(m.Stdout, job.ID)
				}
				return m.follow(ctx, g, c, job.ID, fo)
			}
			if g.json {
				return printJSON(m.Stdout, job)
			}
			fmt.Fprintln(m.Stdout, job.ID)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&s.file, "file", "f", "", "the job as JSON (POST /api/v2/jobs/'s body; - reads stdin)")
	f.StringVar(&s.path, "path", "", "upload this directory's contents as one zip input")
	f.StringArrayVar(&s.inputs, "input", nil, "upload this local file (or zipped directory) as an input; repeatable")
	f.StringArrayVar(&s.inputIDs, "input-id", nil, "an uploaded file's id as an input; repeatable")
	f.StringVar(&s.name, "name", "", "job name (default: the directory's or the command's)")
	f.StringVar(&s.analysis, "analysis", "", "analysis code (default user_included)")
	f.StringVar(&s.version, "version", "", "analysis version (default: the latest)")
	f.StringVar(&s.command, "command", "", "the command to run in the job's working directory")
	f.StringVar(&s.coreType, "core-type", "", "coretype code (default standard-plus)")
	f.IntVar(&s.coresPerSlot, "cores-per-slot", 0, "cores per slot (default: the coretype's smallest)")
	f.IntVar(&s.slots, "slots", 0, "slots (default 1)")
	f.IntVar(&s.walltime, "walltime", 0, "walltime in hours (default: none)")
	f.StringArrayVar(&s.env, "env", nil, "KEY=VALUE environment variable of the job; repeatable")
	f.BoolVar(&s.mpi, "mpi", false, "run the command with MPI (useMpi)")
	f.BoolVar(&s.noSubmit, "no-submit", false, "only create (save) the job")
	f.BoolVar(&s.follow, "follow", false, "then follow it as jobs status --follow does, exiting with its result")
	u.add(f)
	fo.add(cmd)
	return cmd
}

// job is the job body: the JSON file's, with the flags over it.
func (s *submitFlags) job() (map[string]any, error) {
	body := map[string]any{}
	fromFile := s.file != ""
	if fromFile {
		var r io.Reader
		if s.file == "-" {
			r = os.Stdin
		} else {
			f, err := os.Open(s.file)
			if err != nil {
				return nil, err
			}
			defer f.Close()
			r = f
		}
		dec := json.NewDecoder(r)
		dec.UseNumber()
		if err := dec.Decode(&body); err != nil {
			return nil, fmt.Errorf("job file %s: %w", s.file, err)
		}
	}
	var an map[string]any
	switch list := body["jobanalyses"].(type) {
	case nil:
		an = map[string]any{}
		body["jobanalyses"] = []any{an}
	case []any:
		if len(list) == 0 {
			an = map[string]any{}
			body["jobanalyses"] = []any{an}
		} else if an, _ = list[0].(map[string]any); an == nil {
			return nil, errors.New("job file: jobanalyses[0] is not an object")
		}
	default:
		return nil, errors.New("job file: jobanalyses is not a list")
	}
	if s.name != "" {
		body["name"] = s.name
	}
	if _, ok := body["name"]; !ok {
		switch {
		case s.path != "":
			abs, _ := filepath.Abs(s.path)
			body["name"] = filepath.Base(abs)
		case s.command != "":
			body["name"] = s.command
		default:
			body["name"] = "rescale CLI job"
		}
	}
	analysis, _ := an["analysis"].(map[string]any)
	if analysis == nil {
		analysis = map[string]any{}
		if code, ok := an["analysis"].(string); ok {
			analysis["code"] = code
		}
		an["analysis"] = analysis
	}
	if s.analysis != "" {
		analysis["code"] = s.analysis
	}
	if _, ok := analysis["code"]; !ok {
		analysis["code"] = "user_included"
	}
	if s.version != "" {
		analysis["version"] = s.version
	}
	if s.command != "" {
		an["command"] = s.command
	}
	if _, ok := an["command"]; !ok {
		return nil, usageError{errors.New("jobs submit: no command: pass --command or set jobanalyses[0].command in the job file")}
	}
	hw, _ := an["hardware"].(map[string]any)
	if hw == nil {
		hw = map[string]any{}
		an["hardware"] = hw
	}
	if s.coreType != "" {
		hw["coreType"] = s.coreType
		delete(hw, "coreClass")
	}
	_, hasType := hw["coreType"]
	_, hasClass := hw["coreClass"]
	if !hasType && !hasClass {
		hw["coreType"] = "standard-plus"
	}
	if s.coresPerSlot > 0 {
		hw["coresPerSlot"] = s.coresPerSlot
	}
	if s.slots > 0 {
		hw["slots"] = s.slots
	}
	if s.walltime > 0 {
		hw["walltime"] = s.walltime
	}
	if s.mpi {
		an["useMpi"] = true
	}
	if len(s.env) > 0 {
		env, _ := an["envVars"].(map[string]any)
		if env == nil {
			env = map[string]any{}
			an["envVars"] = env
		}
		for _, kv := range s.env {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return nil, usageError{fmt.Errorf("jobs submit: --env %q is not KEY=VALUE", kv)}
			}
			env[k] = v
		}
	}
	return body, nil
}

// addInputs appends file ids to the first analysis's inputFiles.
func addInputs(body map[string]any, ids []string) error {
	an := body["jobanalyses"].([]any)[0].(map[string]any)
	var list []any
	switch v := an["inputFiles"].(type) {
	case nil:
	case []any:
		list = v
	default:
		return errors.New("job file: jobanalyses[0].inputFiles is not a list")
	}
	for _, id := range ids {
		list = append(list, map[string]any{"id": id})
	}
	if list == nil {
		list = []any{}
	}
	an["inputFiles"] = list
	return nil
}

// uploadInputs uploads --path and --input and returns the ids of those and
// of --input-id, in that order.
func (m *Main) uploadInputs(ctx context.Context, g *globals, c *client.Client, s *submitFlags, u *uploadFlags) ([]string, error) {
	var locals []string
	if s.path != "" {
		locals = append(locals, s.path)
	}
	locals = append(locals, s.inputs...)
	var ids []string
	for _, p := range locals {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		opt := u.options(m)
		path := p
		if st.IsDir() {
			abs, err := filepath.Abs(p)
			if err != nil {
				return nil, err
			}
			zipped, err := zipDir(abs)
			if err != nil {
				return nil, err
			}
			defer os.Remove(zipped)
			path, opt.Name = zipped, filepath.Base(abs)+".zip"
			m.note(g, "zipped %s into %s", p, opt.Name)
		}
		r, err := m.upload(ctx, g, c, path, opt)
		if err != nil {
			return nil, err
		}
		m.note(g, "uploaded %s as file %s", p, r.File.ID)
		ids = append(ids, r.File.ID)
	}
	return append(ids, s.inputIDs...), nil
}

// zipDir zips a directory's contents (paths relative to it, modes kept,
// symlinks skipped) into a temporary file and returns its path.
func zipDir(dir string) (string, error) {
	tmp, err := os.CreateTemp("", "rescale-input-*.zip")
	if err != nil {
		return "", err
	}
	zw := zip.NewWriter(tmp)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir || d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		h, err := zip.FileInfoHeader(info)
		if err != nil {
			return err
		}
		h.Name = filepath.ToSlash(rel)
		if d.IsDir() {
			h.Name += "/"
			_, err := zw.CreateHeader(h)
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
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
	if err == nil {
		err = zw.Close()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("zip %s: %w", dir, err)
	}
	return tmp.Name(), nil
}
