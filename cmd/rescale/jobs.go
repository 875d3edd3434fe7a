package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/openrescale/platform/client"
	"github.com/spf13/cobra"
)

func (m *Main) jobsCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "jobs", Short: "List, submit, follow and stop jobs"}
	cmd.AddCommand(m.jobsListCommand(g), m.jobsSubmitCommand(g), m.jobsStatusCommand(g),
		m.jobsStopCommand(g), m.jobsOutputsCommand(g))
	return cmd
}

func (m *Main) jobsListCommand(g *globals) *cobra.Command {
	var (
		q      client.JobQuery
		shared bool
		limit  int
	)
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List jobs, newest first",
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client(g)
			if err != nil {
				return err
			}
			if shared {
				q.F = "0"
			}
			jobs, total, err := c.ListJobs(cmd.Context(), q, limit)
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(m.Stdout, jobs)
			}
			t := newTable(m.Stdout, "ID", "NAME", "STATUS", "CLUSTER", "CREATED", "ANALYSIS")
			for _, j := range jobs {
				st := j.JobStatus.Content
				if st == "" {
					st = "(saved)"
				}
				t.row(j.ID, j.Name, st, j.ClusterStatusDisplay.Content, shortTime(j.DateInserted), strings.Join(j.AnalysisNames, ", "))
			}
			if err := t.flush(); err != nil {
				return err
			}
			if len(jobs) < total {
				m.note(g, "%d of %d jobs (--limit 0 lists all)", len(jobs), total)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&q.Status, "status", "", "only jobs in this status (PENDING, EXECUTING, COMPLETED, …)")
	f.StringVar(&q.State, "state", "", "completed or not_completed")
	f.StringVarP(&q.Q, "search", "s", "", "search: text, #tag, project:NAME, … (the API's q)")
	f.BoolVar(&shared, "shared", false, "include jobs shared with you")
	f.IntVar(&limit, "limit", 50, "at most this many jobs (0: all)")
	return cmd
}

// resolveJob is the job named on the command line, or the caller's newest.
func resolveJob(ctx context.Context, c *client.Client, args []string) (string, error) {
	if len(args) > 0 {
		return args[0], nil
	}
	jobs, _, err := c.ListJobs(ctx, client.JobQuery{}, 1)
	if err != nil {
		return "", err
	}
	if len(jobs) == 0 {
		return "", errors.New("you have no jobs")
	}
	return jobs[0].ID, nil
}

func (m *Main) jobsStatusCommand(g *globals) *cobra.Command {
	var fo followOptions
	var follow bool
	cmd := &cobra.Command{
		Use:   "status [JOB_ID]",
		Short: "Show a job's status timeline; --follow also tails its log until it ends",
		Long: `Show a job's status timeline (default: your newest job). With --follow, print
new statuses and the live tail of the run's process_output.log until the job
ends, then the rest of the log, and exit with the job's result: 0 when it
completed successfully, the command's exit code when it failed with one,
1 otherwise (validation failed, stopped, …).`,
		Args: rangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client(g)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			id, err := resolveJob(ctx, c, args)
			if err != nil {
				return err
			}
			if follow {
				return m.follow(ctx, g, c, id, fo)
			}
			return m.printStatus(ctx, g, c, id)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&follow, "follow", "f", false, "follow the job until it ends, with its live log")
	fo.add(cmd)
	return cmd
}

func (m *Main) printStatus(ctx context.Context, g *globals, c *client.Client, id string) error {
	job, err := c.GetJob(ctx, id)
	if err != nil {
		return err
	}
	st, err := c.Statuses(ctx, id)
	if err != nil {
		return err
	}
	oldest := make([]client.Status, len(st))
	for i, s := range st {
		oldest[len(st)-1-i] = s
	}
	if g.json {
		out := map[string]any{"id": job.ID, "name": job.Name, "status": nil, "statusReason": nil, "statuses": oldest}
		if len(st) > 0 {
			out["status"], out["statusReason"] = st[0].Status, st[0].Reason
		}
		return printJSON(m.Stdout, out)
	}
	fmt.Fprintf(m.Stdout, "Job %s  %s\n", job.ID, job.Name)
	if len(st) == 0 {
		fmt.Fprintln(m.Stdout, "saved, not submitted (rescale jobs submit … or POST /api/v2/jobs/"+job.ID+"/submit/)")
		return nil
	}
	t := newTable(m.Stdout, "TIME", "STATUS", "REASON")
	for _, s := range oldest {
		t.row(shortTime(s.Date), s.Status, s.ReasonText())
	}
	return t.flush()
}

func (m *Main) jobsStopCommand(g *globals) *cobra.Command {
	var force, shutdown bool
	var run string
	cmd := &cobra.Command{
		Use:   "stop JOB_ID",
		Short: "Stop a job (SIGTERM, a grace period, outputs saved)",
		Long: `Stop a job. By default gracefully: SIGTERM, a grace period, then SIGKILL, and
the outputs are saved. --force skips the grace period (outputs saved);
--shutdown kills at once and discards the outputs. --run stops one run of
the job gracefully; the job goes on with its other runs.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if force && shutdown || run != "" && (force || shutdown) {
				return usageError{errors.New("jobs stop: --force, --shutdown and --run exclude each other")}
			}
			c, err := m.client(g)
			if err != nil {
				return err
			}
			ctx, id := cmd.Context(), args[0]
			mode := client.StopGraceful
			switch {
			case run != "":
				if err := c.StopRun(ctx, id, run); err != nil {
					return err
				}
				m.note(g, "run %s of job %s: stop requested", run, id)
				return m.printJSONIf(g, map[string]any{"id": id, "run": run, "stop": "requested"})
			case force:
				mode = client.StopForce
			case shutdown:
				mode = client.StopShutdown
			}
			if err := c.StopJob(ctx, id, mode); err != nil {
				return err
			}
			m.note(g, "job %s: %s requested; it ends Completed (rescale jobs status --follow %s)", id, strings.ReplaceAll(mode, "_", " "), id)
			return m.printJSONIf(g, map[string]any{"id": id, "stop": mode})
		},
	}
	f := cmd.Flags()
	f.BoolVar(&force, "force", false, "no grace period (force_stop)")
	f.BoolVar(&shutdown, "shutdown", false, "kill at once and discard the outputs (shutdown)")
	f.StringVar(&run, "run", "", "stop only this run")
	return cmd
}

func (m *Main) printJSONIf(g *globals, v any) error {
	if g.json {
		return printJSON(m.Stdout, v)
	}
	return nil
}

func (m *Main) jobsOutputsCommand(g *globals) *cobra.Command {
	var run, search string
	cmd := &cobra.Command{
		Use:   "outputs JOB_ID",
		Short: "List a job's output files (download them with rescale download --job)",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client(g)
			if err != nil {
				return err
			}
			files, err := c.JobFiles(cmd.Context(), args[0], run, search)
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(m.Stdout, files)
			}
			runs := map[string]bool{}
			for _, f := range files {
				if mm := runInPath.FindStringSubmatch(f.Path); mm != nil {
					runs[mm[1]] = true
				}
			}
			t := newTable(m.Stdout, "ID", "SIZE", "PATH")
			for _, f := range files {
				p := f.RelativePath
				if mm := runInPath.FindStringSubmatch(f.Path); mm != nil && len(runs) > 1 {
					p = "run" + mm[1] + "/" + p
				}
				t.row(f.ID, humanSize(f.Size), p)
			}
			if err := t.flush(); err != nil {
				return err
			}
			if len(files) == 0 {
				m.note(g, "no output files (they appear when a run ends)")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&run, "run", "", "only this run's files")
	cmd.Flags().StringVar(&search, "search", "", "only files whose relative path contains this")
	return cmd
}

// followOptions tune jobs status --follow.
type followOptions struct {
	interval time.Duration
	run      string
	lines    int
	noLog    bool
}

func (o *followOptions) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.DurationVar(&o.interval, "interval", 2*time.Second, "how often to poll while following")
	f.StringVar(&o.run, "run", "1", "the run whose log to follow")
	f.IntVar(&o.lines, "lines", 1000, "lines of the log to read per poll (at most 10000)")
	f.BoolVar(&o.noLog, "no-log", false, "follow the statuses only, not the log")
}
