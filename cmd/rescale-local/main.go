// Command rescale-local runs the whole platform in one process: the same
// route table and handlers as the AWS deployment, over the embedded store
// and files on disk.
//
//	rescale-local serve [--addr 127.0.0.1:8080] [--data ./data]
//	rescale-local keys create --email EMAIL [--data ./data | --dynamodb-table NAME [--dynamodb-endpoint URL]] [--expires-in-days N]
//	rescale-local users deactivate|activate --email EMAIL [--data ./data | --dynamodb-table NAME [--dynamodb-endpoint URL]]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "rescale-local:", err)
		}
		os.Exit(2)
	}
}

const usage = `usage:
  rescale-local serve [--addr 127.0.0.1:8080] [--data ./data]
  rescale-local keys create --email EMAIL [--data ./data] [--expires-in-days N]
  rescale-local users activate|deactivate --email EMAIL [--data ./data]
    keys and users take --dynamodb-table NAME (and --dynamodb-endpoint URL) instead of
    --data to write a deployed platform's table, with the usual AWS credentials and region

environment:
  RESCALE_LOCAL_API_KEY   serve: the default user's API key (else one is generated on first start and printed once)
  RESCALE_LOCAL_EMAIL     serve: the default user's email (default admin@localhost)
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], stdout, stderr, getenv)
	case "keys":
		if len(args) < 2 || args[1] != "create" {
			return fmt.Errorf("unknown keys subcommand; %s", usage)
		}
		return runKeysCreate(ctx, args[2:], stdout, stderr)
	case "users":
		if len(args) < 2 || (args[1] != "activate" && args[1] != "deactivate") {
			return fmt.Errorf("unknown users subcommand; %s", usage)
		}
		return runUsersSetActive(ctx, args[2:], args[1] == "activate", stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}

func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}
