// Package ids makes Rescale-style short opaque identifiers such as "XkpTse":
// random, never sequential, so ids reveal nothing about volume or order.
// Uniqueness is not assumed from randomness: callers write new records with a
// conditional put and draw again on conflict (see NewUnique).
package ids

import (
	"context"
	"crypto/rand"
	"fmt"

	"github.com/openrescale/platform/shared/errs"
)

const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// Length of a record id: 62^6 ≈ 5.7e10 values, the length the real service
// shows in its examples.
const Length = 6

// New returns a random id of n characters from [a-zA-Z0-9].
func New(n int) string {
	buf := make([]byte, n)
	out := make([]byte, n)
	// Rejection sampling keeps the distribution uniform (256 is not a
	// multiple of 62).
	for i := 0; i < n; {
		if _, err := rand.Read(buf); err != nil {
			panic(fmt.Sprintf("crypto/rand failed: %v", err)) // the OS RNG never fails on supported platforms
		}
		for _, b := range buf {
			if b >= 248 {
				continue
			}
			out[i] = alphabet[int(b)%len(alphabet)]
			i++
			if i == n {
				break
			}
		}
	}
	return string(out)
}

// Short returns a new record id of Length characters.
func Short() string { return New(Length) }

// NewUnique draws ids and calls create with each until create does not
// report errs.Conflict, so a collision costs a retry, never an overwrite.
func NewUnique(ctx context.Context, create func(ctx context.Context, id string) error) (string, error) {
	const attempts = 8
	for i := 0; i < attempts; i++ {
		id := Short()
		err := create(ctx, id)
		if errs.Is(err, errs.Conflict) {
			continue
		}
		if err != nil {
			return "", err
		}
		return id, nil
	}
	return "", errs.E(errs.Internal, "could not draw a unique id in %d attempts", attempts)
}

// Valid reports whether s looks like an id this package makes: 1 to 64
// characters of [a-zA-Z0-9]. Handlers check path ids with it before any
// store access.
func Valid(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
