package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/openrescale/platform/shared/accounts"
)

// runKeysCreate opens the data directory directly, so it works while no
// server runs; while one does, the store's lock makes it fail fast with a
// message pointing at the API instead.
func runKeysCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("keys create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	email := fs.String("email", "", "user's email (created if new)")
	data := fs.String("data", "./data", "data directory")
	days := fs.Int("expires-in-days", 0, "key lifetime in days (0: never expires)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *email == "" {
		return fmt.Errorf("keys create: --email is required")
	}
	st, err := openStore(*data)
	if err != nil {
		return err
	}
	defer st.Close()
	svc := accounts.New(st, time.Now)
	u, err := svc.EnsureUser(ctx, *email)
	if err != nil {
		return err
	}
	k, secret, err := svc.CreateKey(ctx, u.ID, accounts.KeyOptions{TTL: time.Duration(*days) * 24 * time.Hour})
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "created key %s (%s...) for %s\n", k.ID, k.Prefix, u.Email)
	fmt.Fprintln(stdout, secret)
	return nil
}

func runUsersSetActive(ctx context.Context, args []string, active bool, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("users", flag.ContinueOnError)
	fs.SetOutput(stderr)
	email := fs.String("email", "", "user's email")
	data := fs.String("data", "./data", "data directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	st, err := openStore(*data)
	if err != nil {
		return err
	}
	defer st.Close()
	svc := accounts.New(st, time.Now)
	u, err := svc.UserByEmail(ctx, *email)
	if err != nil {
		return err
	}
	if err := svc.SetActive(ctx, u.ID, active); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "user %s active=%v\n", u.Email, active)
	return nil
}
