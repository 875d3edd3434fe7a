package main

import (
	"fmt"
	"strings"

	"github.com/openrescale/platform/client"
	"github.com/spf13/cobra"
	"golang.org/x/time/rate"
)

// globals are the flags every command takes.
type globals struct {
	apiURL, apiKey     string
	configFile         string
	profile            string
	json               bool
	quiet              bool
	limitRate          int64
	showProgressForced bool
}

func (m *Main) rootCommand() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "rescale",
		Short: "Command-line client of the Rescale REST API (v2)",
		Long: `rescale uploads and downloads files and submits, follows and stops jobs
through the Rescale REST API (v2), against a local rescale-local server or a
deployed platform alike.

Configuration, first found wins:
  --api-url, --api-key
  RESCALE_API_URL, RESCALE_API_KEY
  ~/.config/rescale/apiconfig, INI, section [default] or --profile:
      [default]
      apiurl = http://127.0.0.1:8080
      apikey = rsk_…
The API URL defaults to ` + DefaultAPIURL + `; a URL ending in /api/v2/ (as jobs
get in RESCALE_API_URL) is accepted.`,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetOut(m.Stdout)
	root.SetErr(m.Stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&g.apiURL, "api-url", "", "API base URL (env RESCALE_API_URL)")
	pf.StringVar(&g.apiKey, "api-key", "", "API key (env RESCALE_API_KEY)")
	pf.StringVar(&g.configFile, "config", "", "config file (default ~/.config/rescale/apiconfig)")
	pf.StringVar(&g.profile, "profile", "default", "section of the config file")
	pf.BoolVar(&g.json, "json", false, "print JSON for scripts instead of tables")
	pf.BoolVarP(&g.quiet, "quiet", "q", false, "no progress bars or notes on stderr")
	pf.Var(sizeFlag{&g.limitRate}, "limit-rate", "cap transfers at this many bytes per second (e.g. 10MiB)")
	pf.BoolVar(&g.showProgressForced, "progress", false, "show progress bars even when stderr is not a terminal")

	root.AddCommand(m.uploadCommand(g), m.downloadCommand(g), m.filesCommand(g), m.jobsCommand(g))
	return root
}

// client builds the API client from the configuration.
func (m *Main) client(g *globals) (*client.Client, error) {
	file, explicit := g.configFile, g.configFile != ""
	if !explicit {
		file = configPath(m.Home)
	}
	cfg, err := LoadConfig(g.apiURL, g.apiKey, file, g.profile, explicit, m.Getenv)
	if err != nil {
		return nil, err
	}
	c, err := client.New(cfg.APIURL, cfg.APIKey)
	if err != nil {
		return nil, err
	}
	if g.limitRate > 0 {
		burst := int(min(g.limitRate, 256<<10))
		c.Limit = rate.NewLimiter(rate.Limit(g.limitRate), max(burst, 1))
	}
	return c, nil
}

// note prints a line for people on stderr (not with --quiet).
func (m *Main) note(g *globals, format string, args ...any) {
	if !g.quiet {
		fmt.Fprintf(m.Stderr, format+"\n", args...)
	}
}

// bar is a progress bar on stderr, or nil when there is no terminal to
// show one on (or --quiet).
func (m *Main) bar(g *globals, desc string) *bar {
	if g.quiet || (!m.Progress && !g.showProgressForced) {
		return nil
	}
	return newBar(m.Stderr, desc)
}

// progress turns a possibly nil bar into a client.Progress.
func progress(b *bar) client.Progress {
	if b == nil {
		return nil
	}
	return b
}

// exactArgs is cobra.ExactArgs as a usage error.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{fmt.Errorf("%s takes %d argument(s), got %d: %s", cmd.CommandPath(), n, len(args), strings.Join(args, " "))}
		}
		return nil
	}
}

func rangeArgs(lo, hi int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < lo || len(args) > hi {
			return usageError{fmt.Errorf("%s takes %d to %d argument(s), got %d", cmd.CommandPath(), lo, hi, len(args))}
		}
		return nil
	}
}
