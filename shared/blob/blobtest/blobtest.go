// Package blobtest is the contract every blob.Bucket adapter must pass, so
// that code tested against fileblob behaves the same against s3blob.
//
// Choices the port leaves open and this suite pins down:
//   - An offset equal to the object's size reads zero bytes without error,
//     whatever the length; only an offset past the end is errs.Invalid.
//   - Put with an empty content type stores blob.DefaultContentType.
//   - A failed or cancelled Put over an existing object leaves the old
//     object untouched (it is "no object behind" from the failed write).
package blobtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openrescale/platform/shared/blob"
	"github.com/openrescale/platform/shared/errs"
)

// Sizes that matter to adapters: midFail is past the S3 upload manager's
// 5 MiB first part, so failures after it exercise the multipart abort path.
const (
	midFail   = 6 << 20
	largeSize = 64 << 20
)

// Run runs the contract against buckets made by newBucket. newBucket is
// called once per subtest, possibly in parallel; it may return the same
// underlying store each time because every subtest uses its own key prefix.
func Run(t *testing.T, newBucket func(t *testing.T) blob.Bucket) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b blob.Bucket, p string)
	}{
		{"RoundTrip", testRoundTrip},
		{"Empty", testEmpty},
		{"DefaultContentType", testDefaultContentType},
		{"PutReplaces", testPutReplaces},
		{"RangedReads", testRangedReads},
		{"Missing", testMissing},
		{"Delete", testDelete},
		{"List", testList},
		{"ListStopsOnError", testListStops},
		{"FailedPut", testFailedPut},
		{"CancelledPut", testCancelledPut},
		{"ConcurrentPuts", testConcurrentPuts},
		{"LargeStreamedPut", testLarge},
		{"InvalidKeys", testInvalidKeys},
		{"InvalidContentType", testInvalidContentType},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := newBucket(t)
			tc.fn(t, b, uniquePrefix(t))
		})
	}
}

// uniquePrefix keeps subtests (and repeated runs against a shared store)
// from seeing each other's objects.
func uniquePrefix(t *testing.T) string {
	var r [6]byte
	if _, err := rand.Read(r[:]); err != nil {
		t.Fatal(err)
	}
	name := strings.NewReplacer("/", "-", " ", "_").Replace(t.Name())
	return "blobtest/" + name + "-" + hex.EncodeToString(r[:]) + "/"
}

func put(t *testing.T, b blob.Bucket, key string, data []byte, ct string) blob.Attrs {
	t.Helper()
	a, err := b.Put(t.Context(), key, bytes.NewReader(data), ct)
	if err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
	return a
}

func readRange(t *testing.T, b blob.Bucket, key string, off, n int64) []byte {
	t.Helper()
	rc, err := b.NewRangeReader(t.Context(), key, off, n)
	if err != nil {
		t.Fatalf("NewRangeReader(%q, %d, %d): %v", key, off, n, err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading %q [%d,%d): %v", key, off, n, err)
	}
	return got
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if !errs.Is(err, code) {
		t.Errorf("%s: got error %v (code %q), want code %q", what, err, errs.Code(err), code)
	}
}

func wantGone(t *testing.T, b blob.Bucket, key string) {
	t.Helper()
	_, err := b.Stat(t.Context(), key)
	wantCode(t, "Stat after failed Put", err, errs.NotFound)
}

func listKeys(t *testing.T, b blob.Bucket, prefix string) []string {
	t.Helper()
	var keys []string
	err := b.List(t.Context(), prefix, func(a blob.Attrs) error {
		keys = append(keys, a.Key)
		return nil
	})
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	return keys
}

func testRoundTrip(t *testing.T, b blob.Bucket, p string) {
	bin := make([]byte, 1000)
	for i := range bin {
		bin[i] = byte(i * 7)
	}
	cases := []struct {
		name, key, ct string
		data          []byte
	}{
		{"text", p + "hello.txt", "text/plain; charset=utf-8", []byte("hello, world\n")},
		{"binary", p + "dir/sub/data-0a1b", "application/pdf", bin},
		{"unicode key", p + "ünï cödé/ファイル (1).bin", "image/png", []byte{0, 1, 2}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := time.Now().Add(-time.Minute)
			a := put(t, b, tc.key, tc.data, tc.ct)
			if a.Key != tc.key || a.Size != int64(len(tc.data)) || a.ContentType != tc.ct {
				t.Errorf("Put attrs = %+v, want key %q size %d type %q", a, tc.key, len(tc.data), tc.ct)
			}
			s, err := b.Stat(t.Context(), tc.key)
			if err != nil {
				t.Fatalf("Stat: %v", err)
			}
			if s.Key != tc.key || s.Size != int64(len(tc.data)) || s.ContentType != tc.ct {
				t.Errorf("Stat = %+v, want key %q size %d type %q", s, tc.key, len(tc.data), tc.ct)
			}
			if s.ModTime.Before(before) || s.ModTime.After(time.Now().Add(time.Minute)) {
				t.Errorf("Stat ModTime = %v, want about now", s.ModTime)
			}
			if got := readRange(t, b, tc.key, 0, -1); !bytes.Equal(got, tc.data) {
				t.Errorf("read back %d bytes, want %d equal bytes", len(got), len(tc.data))
			}
		})
	}
}

func testEmpty(t *testing.T, b blob.Bucket, p string) {
	key := p + "empty"
	if a := put(t, b, key, nil, "text/plain"); a.Size != 0 {
		t.Errorf("Put size = %d, want 0", a.Size)
	}
	s, err := b.Stat(t.Context(), key)
	if err != nil || s.Size != 0 {
		t.Fatalf("Stat = %+v, %v; want size 0", s, err)
	}
	for _, r := range [][2]int64{{0, -1}, {0, 0}, {0, 10}} {
		if got := readRange(t, b, key, r[0], r[1]); len(got) != 0 {
			t.Errorf("range %v of empty object = %q", r, got)
		}
	}
	_, err = b.NewRangeReader(t.Context(), key, 1, -1)
	wantCode(t, "offset 1 of empty object", err, errs.Invalid)
}

func testDefaultContentType(t *testing.T, b blob.Bucket, p string) {
	key := p + "untyped"
	if a := put(t, b, key, []byte("x"), ""); a.ContentType != blob.DefaultContentType {
		t.Errorf("Put ContentType = %q, want %q", a.ContentType, blob.DefaultContentType)
	}
	s, err := b.Stat(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	if s.ContentType != blob.DefaultContentType {
		t.Errorf("Stat ContentType = %q, want %q", s.ContentType, blob.DefaultContentType)
	}
}

func testPutReplaces(t *testing.T, b blob.Bucket, p string) {
	key := p + "k"
	put(t, b, key, []byte("the first, longer body"), "text/plain")
	put(t, b, key, []byte("2nd"), "text/csv")
	s, err := b.Stat(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	if s.Size != 3 || s.ContentType != "text/csv" {
		t.Errorf("Stat after replace = %+v, want size 3 type text/csv", s)
	}
	if got := readRange(t, b, key, 0, -1); string(got) != "2nd" {
		t.Errorf("read after replace = %q, want %q", got, "2nd")
	}
	if keys := listKeys(t, b, p); !slices.Equal(keys, []string{key}) {
		t.Errorf("List after replace = %q, want just %q", keys, key)
	}
}

func testRangedReads(t *testing.T, b blob.Bucket, p string) {
	data := []byte("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
	size := int64(len(data))
	key := p + "r"
	put(t, b, key, data, "")
	ok := []struct {
		name      string
		off, n    int64
		wantStart int64
		wantEnd   int64
	}{
		{"first byte", 0, 1, 0, 1},
		{"middle", 10, 20, 10, 30},
		{"to end", 5, -1, 5, size},
		{"whole", 0, -1, 0, size},
		{"exact whole", 0, size, 0, size},
		{"last byte", size - 1, 1, size - 1, size},
		{"past end is truncated", size - 4, 100, size - 4, size},
		{"zero length inside", 3, 0, 3, 3},
		{"offset at size, zero length", size, 0, size, size},
		{"offset at size, to end", size, -1, size, size},
		{"offset at size, positive length", size, 5, size, size},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			got := readRange(t, b, key, tc.off, tc.n)
			if want := data[tc.wantStart:tc.wantEnd]; !bytes.Equal(got, want) {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
	bad := []struct {
		name   string
		off, n int64
	}{
		{"offset past end", size + 1, 1},
		{"offset past end, to end", size + 1, -1},
		{"offset past end, zero length", size + 10, 0},
		{"negative offset", -1, 1},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			rc, err := b.NewRangeReader(t.Context(), key, tc.off, tc.n)
			if err == nil {
				rc.Close()
			}
			wantCode(t, fmt.Sprintf("NewRangeReader(%d, %d)", tc.off, tc.n), err, errs.Invalid)
		})
	}
}

func testMissing(t *testing.T, b blob.Bucket, p string) {
	key := p + "nope"
	_, err := b.Stat(t.Context(), key)
	wantCode(t, "Stat missing", err, errs.NotFound)
	for _, r := range [][2]int64{{0, -1}, {0, 0}, {5, 10}, {5, -1}} {
		rc, err := b.NewRangeReader(t.Context(), key, r[0], r[1])
		if err == nil {
			rc.Close()
		}
		wantCode(t, fmt.Sprintf("NewRangeReader missing %v", r), err, errs.NotFound)
	}
	// A key under an existing object's name must read as missing, not as a
	// filesystem error, in adapters that map keys to paths.
	put(t, b, p+"file", []byte("x"), "")
	_, err = b.Stat(t.Context(), p+"file/child")
	wantCode(t, "Stat under an object", err, errs.NotFound)
	// Likewise a "directory" that exists only because deeper keys do.
	put(t, b, p+"dir/deeper", []byte("x"), "")
	_, err = b.Stat(t.Context(), p+"dir")
	wantCode(t, "Stat of a key prefix", err, errs.NotFound)
	rc, err := b.NewRangeReader(t.Context(), p+"dir", 0, -1)
	if err == nil {
		rc.Close()
	}
	wantCode(t, "NewRangeReader of a key prefix", err, errs.NotFound)
}

func testDelete(t *testing.T, b blob.Bucket, p string) {
	key := p + "a/b/c"
	put(t, b, key, []byte("doomed"), "")
	if err := b.Delete(t.Context(), key); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	_, err := b.Stat(t.Context(), key)
	wantCode(t, "Stat after Delete", err, errs.NotFound)
	if err := b.Delete(t.Context(), key); err != nil {
		t.Errorf("second Delete: %v, want nil", err)
	}
	if err := b.Delete(t.Context(), p+"never-was"); err != nil {
		t.Errorf("Delete missing: %v, want nil", err)
	}
	if keys := listKeys(t, b, p); len(keys) != 0 {
		t.Errorf("List after Delete = %q, want none", keys)
	}
	// Deleting a key prefix must not take the objects under it.
	put(t, b, p+"keep/x", []byte("x"), "")
	if err := b.Delete(t.Context(), p+"keep"); err != nil {
		t.Errorf("Delete of a key prefix: %v, want nil", err)
	}
	if _, err := b.Stat(t.Context(), p+"keep/x"); err != nil {
		t.Errorf("Stat after deleting its prefix: %v", err)
	}
	// The key can be written again after deletion.
	put(t, b, key, []byte("back"), "")
	if got := readRange(t, b, key, 0, -1); string(got) != "back" {
		t.Errorf("read after re-Put = %q", got)
	}
}

func testList(t *testing.T, b blob.Bucket, p string) {
	// Keys chosen so that key order differs from a naive directory walk:
	// "b-x" < "b/c" because '-' < '/', but a walk would visit dir "b" first.
	keys := []string{
		p + "list/a",
		p + "list/b-x",
		p + "list/b/c",
		p + "list/b/d/e",
		p + "list/b0",
		p + "list/c.txt",
		p + "list/é",
	}
	other := []string{p + "lis", p + "listing/z", p + "other/list/a"}
	sizes := map[string]int64{}
	// Put in scrambled order so an adapter cannot pass by insertion order.
	for i, k := range slices.Concat(other, []string{keys[3], keys[0], keys[6], keys[2], keys[5], keys[1], keys[4]}) {
		data := bytes.Repeat([]byte("z"), i+1)
		sizes[k] = int64(len(data))
		put(t, b, k, data, "text/plain")
	}
	cases := []struct {
		prefix string
		want   []string
	}{
		{p + "list/", keys},
		{p + "list/b", keys[1:5]},
		{p + "list/b/", keys[2:4]},
		{p + "list/b/d/e", keys[3:4]},
		{p + "list/zz", nil},
		{p + "nothing/", nil},
		{p + "lis", slices.Concat([]string{p + "lis"}, keys, []string{p + "listing/z"})},
	}
	for _, tc := range cases {
		t.Run(strings.TrimPrefix(tc.prefix, p), func(t *testing.T) {
			var got []string
			err := b.List(t.Context(), tc.prefix, func(a blob.Attrs) error {
				got = append(got, a.Key)
				if a.Size != sizes[a.Key] {
					t.Errorf("List size of %q = %d, want %d", a.Key, a.Size, sizes[a.Key])
				}
				if a.ModTime.IsZero() {
					t.Errorf("List ModTime of %q is zero", a.Key)
				}
				return nil
			})
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("List(%q) =\n %q\nwant\n %q", tc.prefix, got, tc.want)
			}
		})
	}
}

func testListStops(t *testing.T, b blob.Bucket, p string) {
	for _, k := range []string{"a", "b", "c", "d"} {
		put(t, b, p+k, []byte(k), "")
	}
	stop := errors.New("stop here")
	var seen []string
	err := b.List(t.Context(), p, func(a blob.Attrs) error {
		seen = append(seen, a.Key)
		if len(seen) == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Errorf("List returned %v, want fn's error", err)
	}
	if want := []string{p + "a", p + "b"}; !slices.Equal(seen, want) {
		t.Errorf("fn saw %q, want %q", seen, want)
	}
}

// failingReader yields n bytes then fails, as a client that drops mid-upload.
type failingReader struct {
	n   int64
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, f.err
	}
	p = p[:min(int64(len(p)), f.n)]
	for i := range p {
		p[i] = 'f'
	}
	f.n -= int64(len(p))
	return len(p), nil
}

func testFailedPut(t *testing.T, b blob.Bucket, p string) {
	for _, n := range []int64{0, 1 << 10, midFail} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			boom := errors.New("client went away")
			key := p + fmt.Sprintf("fail-%d/obj", n)
			_, err := b.Put(t.Context(), key, &failingReader{n: n, err: boom}, "")
			if err == nil {
				t.Fatal("Put with a failing reader succeeded")
			}
			if !errors.Is(err, boom) {
				t.Errorf("Put error %v does not wrap the reader's error", err)
			}
			wantGone(t, b, key)
			if keys := listKeys(t, b, p+fmt.Sprintf("fail-%d", n)); len(keys) != 0 {
				t.Errorf("List after failed Put = %q, want none", keys)
			}
			// Over an existing object, the old object survives intact.
			put(t, b, key, []byte("old"), "text/plain")
			if _, err := b.Put(t.Context(), key, &failingReader{n: n, err: boom}, "text/csv"); err == nil {
				t.Fatal("second Put with a failing reader succeeded")
			}
			s, err := b.Stat(t.Context(), key)
			if err != nil || s.Size != 3 || s.ContentType != "text/plain" {
				t.Errorf("after failed replace Stat = %+v, %v; want the old object", s, err)
			}
			if got := readRange(t, b, key, 0, -1); string(got) != "old" {
				t.Errorf("after failed replace read %q, want %q", got, "old")
			}
		})
	}
}

// cancellingReader cancels its context after n bytes and keeps producing
// data, so only the adapter's own context checks can stop the Put.
type cancellingReader struct {
	n      int64
	cancel context.CancelFunc
}

func (c *cancellingReader) Read(p []byte) (int, error) {
	if c.n <= 0 {
		c.cancel()
	}
	p = p[:min(int64(len(p)), max(c.n, 1<<10))]
	for i := range p {
		p[i] = 'c'
	}
	c.n -= int64(len(p))
	return len(p), nil
}

func testCancelledPut(t *testing.T, b blob.Bucket, p string) {
	for _, n := range []int64{1 << 10, midFail} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			key := p + fmt.Sprintf("cancel-%d/obj", n)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			// Without the cancellation this reader never ends, so a Put
			// that ignored ctx would hang the test rather than pass it.
			_, err := b.Put(ctx, key, &cancellingReader{n: n, cancel: cancel}, "")
			if err == nil {
				t.Fatal("cancelled Put succeeded")
			}
			if !errors.Is(err, context.Canceled) {
				t.Errorf("cancelled Put error %v does not wrap context.Canceled", err)
			}
			wantGone(t, b, key)
			if keys := listKeys(t, b, p); len(keys) != 0 {
				t.Errorf("List after cancelled Put = %q, want none", keys)
			}
		})
	}
	t.Run("already cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		key := p + "pre-cancelled"
		if _, err := b.Put(ctx, key, strings.NewReader("data"), ""); err == nil {
			t.Fatal("Put with a cancelled context succeeded")
		}
		wantGone(t, b, key)
	})
}

// testConcurrentPuts checks that racing writers to one key leave one
// writer's body and content type, never a mix.
func testConcurrentPuts(t *testing.T, b blob.Bucket, p string) {
	key := p + "contended"
	const writers = 8
	types := []string{"text/plain", "text/csv", "image/png", "application/json"}
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			body := bytes.Repeat([]byte{byte('a' + i)}, 1000*(i+1))
			if _, err := b.Put(t.Context(), key, bytes.NewReader(body), types[i%len(types)]); err != nil {
				t.Errorf("writer %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	s, err := b.Stat(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	got := readRange(t, b, key, 0, -1)
	if len(got) == 0 {
		t.Fatal("empty object after concurrent Puts")
	}
	i := int(got[0] - 'a')
	if i < 0 || i >= writers || !bytes.Equal(got, bytes.Repeat([]byte{got[0]}, 1000*(i+1))) {
		t.Fatalf("object after concurrent Puts is not one writer's body (%d bytes)", len(got))
	}
	if s.Size != int64(len(got)) || s.ContentType != types[i%len(types)] {
		t.Errorf("Stat = %+v, want size %d type %q from writer %d", s, len(got), types[i%len(types)], i)
	}
}

// genReader streams n pseudo-random bytes and hashes what it hands out, so
// a large Put is tested without the test itself holding the body.
type genReader struct {
	n   int64
	rng *mrand.ChaCha8
	h   hash.Hash
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.n <= 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), g.n)]
	_, _ = g.rng.Read(p)
	g.h.Write(p)
	g.n -= int64(len(p))
	return len(p), nil
}

func testLarge(t *testing.T, b blob.Bucket, p string) {
	if testing.Short() {
		t.Skip("large Put skipped in -short mode")
	}
	key := p + "large.bin"
	gen := &genReader{n: largeSize, rng: mrand.NewChaCha8([32]byte{1, 2, 3}), h: sha256.New()}
	// io.MultiReader hides any WriterTo/Len an adapter might use to cheat.
	a, err := b.Put(t.Context(), key, io.MultiReader(gen), "application/octet-stream")
	if err != nil {
		t.Fatalf("large Put: %v", err)
	}
	if a.Size != largeSize {
		t.Errorf("Put size = %d, want %d", a.Size, largeSize)
	}
	want := gen.h.Sum(nil)

	rc, err := b.NewRangeReader(t.Context(), key, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		t.Fatalf("reading large object: %v", err)
	}
	if n != largeSize || !bytes.Equal(h.Sum(nil), want) {
		t.Errorf("read back %d bytes with sha256 %x, want %d bytes with %x", n, h.Sum(nil), largeSize, want)
	}

	// A range across the 5 MiB part boundary of a multipart upload.
	gen2 := &genReader{n: largeSize, rng: mrand.NewChaCha8([32]byte{1, 2, 3}), h: sha256.New()}
	const off, length = 5<<20 - 100, 200
	if _, err := io.CopyN(io.Discard, gen2, off); err != nil {
		t.Fatal(err)
	}
	wantRange := make([]byte, length)
	if _, err := io.ReadFull(gen2, wantRange); err != nil {
		t.Fatal(err)
	}
	if got := readRange(t, b, key, off, length); !bytes.Equal(got, wantRange) {
		t.Errorf("range across part boundary differs")
	}
}

func testInvalidKeys(t *testing.T, b blob.Bucket, p string) {
	bad := []string{
		"../x", "/abs", "a//b", "a\x00b", "", "a/./b", "a/../b", "a/", ".", "..",
		p + "../escape", strings.Repeat("k", 1025),
	}
	ctx := t.Context()
	for _, key := range bad {
		t.Run(fmt.Sprintf("%q", key), func(t *testing.T) {
			if blob.ValidKey(key) {
				t.Fatalf("blob.ValidKey(%q) = true; the suite expects it invalid", key)
			}
			_, err := b.Put(ctx, key, strings.NewReader("x"), "")
			wantCode(t, "Put", err, errs.Invalid)
			_, err = b.Stat(ctx, key)
			wantCode(t, "Stat", err, errs.Invalid)
			rc, err := b.NewRangeReader(ctx, key, 0, -1)
			if err == nil {
				rc.Close()
			}
			wantCode(t, "NewRangeReader", err, errs.Invalid)
			wantCode(t, "Delete", b.Delete(ctx, key), errs.Invalid)
		})
	}
}

func testInvalidContentType(t *testing.T, b blob.Bucket, p string) {
	for _, ct := range []string{"text/plain\r\nX-Evil: 1", "not a type", "plain", strings.Repeat("a", 300) + "/b"} {
		key := p + "ct"
		_, err := b.Put(t.Context(), key, strings.NewReader("x"), ct)
		wantCode(t, fmt.Sprintf("Put with content type %q", ct), err, errs.Invalid)
		wantGone(t, b, key)
	}
}
