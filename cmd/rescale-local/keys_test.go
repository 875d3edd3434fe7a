package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openrescale/platform/shared/accounts"
	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/store"
	"github.com/openrescale/platform/shared/store/boltstore"
	"github.com/openrescale/platform/shared/store/dynamostore"
	"github.com/openrescale/platform/shared/store/dynamostore/dynamolocal"
)

func TestMain(m *testing.M) { dynamolocal.Main(m) }

// admin runs one admin command as the binary would.
func admin(t *testing.T, args ...string) (stdout string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(t.Context(), args, &out, &errOut, func(string) string { return "" })
	return strings.TrimSpace(out.String()), err
}

// deployedTable is a table as infra creates it, in DynamoDB Local; the
// commands reach it through the usual AWS chain (here: environment
// variables), as they would a deployment's.
func deployedTable(t *testing.T) (table, endpoint string, st store.Store) {
	t.Helper()
	client, endpoint := dynamolocal.Shared(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	table = "admin-" + hex.EncodeToString(b[:])
	if err := dynamostore.CreateTable(t.Context(), client, table); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_SESSION_TOKEN": "", "AWS_REGION": "us-east-1",
		"AWS_PROFILE": "", "AWS_CONFIG_FILE": os.DevNull, "AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
	} {
		t.Setenv(k, v)
	}
	return table, endpoint, dynamostore.New(client, table)
}

// TestAdminCommands: the first key of a deployment, and the commands
// after it, work on a deployed table as on a data directory; the keys
// they print authenticate against the store they wrote.
func TestAdminCommands(t *testing.T) {
	targets := []struct {
		name string
		open func(t *testing.T) (flags []string, st func() store.Store)
	}{
		{"dynamodb", func(t *testing.T) ([]string, func() store.Store) {
			table, endpoint, st := deployedTable(t)
			return []string{"--dynamodb-table", table, "--dynamodb-endpoint", endpoint}, func() store.Store { return st }
		}},
		{"data directory", func(t *testing.T) ([]string, func() store.Store) {
			dir := t.TempDir()
			// The commands lock the directory's store while they run: open
			// it only to check, between commands.
			return []string{"--data", dir}, func() store.Store {
				st, err := boltstore.Open(filepath.Join(dir, "store.db"), boltstore.Options{Timeout: time.Second})
				if err != nil {
					t.Fatal(err)
				}
				return st
			}
		}},
	}
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			flags, open := tg.open(t)
			cmd := func(args ...string) (string, error) { return admin(t, append(args, flags...)...) }
			first, err := cmd("keys", "create", "--email", "Admin@Example.com")
			if err != nil {
				t.Fatal(err)
			}
			second, err := cmd("keys", "create", "--email", "admin@example.com", "--expires-in-days", "30")
			if err != nil {
				t.Fatal(err)
			}
			if first == second || !strings.HasPrefix(first, accounts.KeyPrefix) {
				t.Fatalf("keys %q and %q", first, second)
			}
			// check runs fn on the store the commands wrote; bolt allows
			// one handle at a time, so it is closed again before the next
			// command.
			check := func(fn func(svc *accounts.Service)) {
				st := open()
				defer st.Close()
				fn(accounts.New(st, time.Now))
			}
			var users []string
			check(func(svc *accounts.Service) {
				for _, secret := range []string{first, second} {
					u, k, err := svc.Authenticate(t.Context(), secret)
					if err != nil {
						t.Fatalf("key %.12s...: %v", secret, err)
					}
					if u.Email != "admin@example.com" {
						t.Fatalf("key for %q", u.Email)
					}
					users = append(users, u.ID)
					if secret == second && (k.ExpiresAt == nil || k.ExpiresAt.Before(time.Now().Add(29*24*time.Hour))) {
						t.Fatalf("the 30-day key expires %v", k.ExpiresAt)
					}
				}
			})
			if users[0] != users[1] {
				t.Fatalf("a second key for the same email made a second user: %v", users)
			}

			if out, err := cmd("users", "deactivate", "--email", "admin@example.com"); err != nil || !strings.Contains(out, "active=false") {
				t.Fatalf("deactivate: %q, %v", out, err)
			}
			check(func(svc *accounts.Service) {
				if _, _, err := svc.Authenticate(t.Context(), first); err == nil {
					t.Fatal("a deactivated user's key still authenticates")
				}
			})
			if _, err := cmd("users", "activate", "--email", "admin@example.com"); err != nil {
				t.Fatal(err)
			}
			check(func(svc *accounts.Service) {
				if _, _, err := svc.Authenticate(t.Context(), first); err != nil {
					t.Fatalf("reactivated: %v", err)
				}
			})
			if _, err := cmd("users", "activate", "--email", "nobody@example.com"); !errs.Is(err, errs.NotFound) {
				t.Fatalf("unknown user: %v", err)
			}
		})
	}
}

// TestAdminCommandRefusals: what the commands refuse, with a message
// saying why.
func TestAdminCommandRefusals(t *testing.T) {
	_, endpoint, _ := deployedTable(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no email", []string{"keys", "create", "--dynamodb-table", "x"}, "--email is required"},
		{"no such table", []string{"keys", "create", "--email", "a@example.com", "--dynamodb-table", "missing-table", "--dynamodb-endpoint", endpoint},
			"table missing-table does not exist in region us-east-1"},
		{"endpoint without table", []string{"keys", "create", "--email", "a@example.com", "--data", t.TempDir(), "--dynamodb-endpoint", endpoint},
			"--dynamodb-endpoint needs --dynamodb-table"},
		{"negative lifetime", []string{"keys", "create", "--email", "a@example.com", "--expires-in-days", "-1"}, "must not be negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := admin(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}
