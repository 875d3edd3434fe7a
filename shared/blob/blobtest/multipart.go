package blobtest

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"testing"

	"github.com/openrescale/platform/shared/blob"
	"github.com/openrescale/platform/shared/errs"
)

// RunMultipart is the contract of blob.Multipart, for adapters that
// implement it. Choices it pins down beyond S3's documented behaviour:
//   - ETags are the part's MD5 in hex inside double quotes, and Complete
//     accepts them with or without the quotes.
//   - A completed or aborted upload is errs.NotFound afterwards; aborting
//     an unknown upload is not an error.
func RunMultipart(t *testing.T, newBucket func(t *testing.T) blob.Bucket) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b blob.Multipart, bb blob.Bucket, p string)
	}{
		{"OutOfOrderReplaceAndComplete", testMultipartRoundTrip},
		{"CompleteRejectsMismatch", testMultipartRejects},
		{"Abort", testMultipartAbort},
		{"UnknownUpload", testMultipartUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := newBucket(t)
			mp, ok := b.(blob.Multipart)
			if !ok {
				t.Fatalf("%T does not implement blob.Multipart", b)
			}
			tt.fn(t, mp, b, uniquePrefix(t))
		})
	}
}

func etagOf(data []byte) string {
	s := md5.Sum(data)
	return `"` + hex.EncodeToString(s[:]) + `"`
}

func uploadPart(t *testing.T, b blob.Multipart, key, id string, n int, data []byte) blob.Part {
	t.Helper()
	p, err := b.UploadPart(t.Context(), key, id, n, bytes.NewReader(data))
	if err != nil {
		t.Fatalf("UploadPart %d: %v", n, err)
	}
	if p.Number != n || p.Size != int64(len(data)) || p.ETag != etagOf(data) {
		t.Fatalf("UploadPart %d = %+v, want size %d etag %s", n, p, len(data), etagOf(data))
	}
	return p
}

func testMultipartRoundTrip(t *testing.T, b blob.Multipart, bb blob.Bucket, p string) {
	ctx := t.Context()
	key := p + "assembled.bin"
	id, err := b.CreateMultipart(ctx, key, "application/x-test")
	if err != nil || id == "" {
		t.Fatalf("CreateMultipart: %q %v", id, err)
	}
	p1 := bytes.Repeat([]byte{'a'}, blob.MinPartSize)
	p2 := bytes.Repeat([]byte{'b'}, blob.MinPartSize)
	p2b := bytes.Repeat([]byte{'B'}, blob.MinPartSize+7)
	p3 := []byte("tail")
	uploadPart(t, b, key, id, 3, p3)
	uploadPart(t, b, key, id, 1, p1)
	uploadPart(t, b, key, id, 2, p2)
	// Not visible before completion.
	if _, err := bb.Stat(ctx, key); !errs.Is(err, errs.NotFound) {
		t.Fatalf("object visible before Complete: %v", err)
	}
	// A resumed client re-sends part 2; the later upload wins.
	uploadPart(t, b, key, id, 2, p2b)
	parts, err := b.ListParts(ctx, key, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 3 || parts[0].Number != 1 || parts[1].Number != 2 || parts[2].Number != 3 ||
		parts[1].ETag != etagOf(p2b) || parts[1].Size != int64(len(p2b)) || parts[2].Size != 4 {
		t.Fatalf("ListParts = %+v", parts)
	}
	// Complete accepts unquoted ETags too.
	parts[0].ETag = parts[0].ETag[1 : len(parts[0].ETag)-1]
	a, err := b.CompleteMultipart(ctx, key, id, parts)
	if err != nil {
		t.Fatalf("CompleteMultipart: %v", err)
	}
	want := append(append(append([]byte{}, p1...), p2b...), p3...)
	if a.Size != int64(len(want)) || a.Key != key {
		t.Fatalf("attrs %+v", a)
	}
	got := readRange(t, bb, key, 0, -1)
	if !bytes.Equal(got, want) {
		t.Fatalf("assembled %d bytes differ from the %d sent", len(got), len(want))
	}
	if st, err := bb.Stat(ctx, key); err != nil || st.ContentType != "application/x-test" {
		t.Fatalf("Stat %+v %v", st, err)
	}
	if _, err := b.ListParts(ctx, key, id); !errs.Is(err, errs.NotFound) {
		t.Fatalf("ListParts after Complete: %v", err)
	}
	if _, err := b.CompleteMultipart(ctx, key, id, parts); !errs.Is(err, errs.NotFound) {
		t.Fatalf("second Complete: %v", err)
	}
}

func testMultipartRejects(t *testing.T, b blob.Multipart, bb blob.Bucket, p string) {
	ctx := t.Context()
	key := p + "rejected.bin"
	id, err := b.CreateMultipart(ctx, key, "")
	if err != nil {
		t.Fatal(err)
	}
	small := uploadPart(t, b, key, id, 1, []byte("too small to be a non-final part"))
	big := uploadPart(t, b, key, id, 2, bytes.Repeat([]byte{'x'}, blob.MinPartSize))
	cases := map[string][]blob.Part{
		"no parts":        nil,
		"wrong etag":      {{Number: 2, ETag: etagOf([]byte("other"))}},
		"missing part":    {{Number: 7, ETag: big.ETag}},
		"descending":      {big, small},
		"small non-final": {small, big},
	}
	for name, parts := range cases {
		if _, err := b.CompleteMultipart(ctx, key, id, parts); !errs.Is(err, errs.Invalid) {
			t.Errorf("%s: %v, want Invalid", name, err)
		}
	}
	if _, err := bb.Stat(ctx, key); !errs.Is(err, errs.NotFound) {
		t.Fatalf("a rejected Complete created the object: %v", err)
	}
	if _, err := b.UploadPart(ctx, key, id, 0, bytes.NewReader([]byte("x"))); !errs.Is(err, errs.Invalid) {
		t.Errorf("part 0: %v", err)
	}
	// Still usable after the rejections.
	if _, err := b.CompleteMultipart(ctx, key, id, []blob.Part{big}); err != nil {
		t.Fatalf("valid Complete after rejections: %v", err)
	}
}

func testMultipartAbort(t *testing.T, b blob.Multipart, bb blob.Bucket, p string) {
	ctx := t.Context()
	key := p + "aborted.bin"
	id, err := b.CreateMultipart(ctx, key, "")
	if err != nil {
		t.Fatal(err)
	}
	uploadPart(t, b, key, id, 1, []byte("part"))
	if err := b.AbortMultipart(ctx, key, id); err != nil {
		t.Fatal(err)
	}
	if _, err := b.ListParts(ctx, key, id); !errs.Is(err, errs.NotFound) {
		t.Fatalf("ListParts after Abort: %v", err)
	}
	if err := b.AbortMultipart(ctx, key, id); err != nil {
		t.Fatalf("second Abort: %v", err)
	}
	wantGone(t, bb, key)
}

func testMultipartUnknown(t *testing.T, b blob.Multipart, bb blob.Bucket, p string) {
	ctx := t.Context()
	key := p + "unknown.bin"
	bogus := "0123456789abcdef0123456789abcdef"
	if _, err := b.ListParts(ctx, key, bogus); !errs.Is(err, errs.NotFound) {
		t.Errorf("ListParts: %v", err)
	}
	if _, err := b.UploadPart(ctx, key, bogus, 1, bytes.NewReader([]byte("x"))); !errs.Is(err, errs.NotFound) {
		t.Errorf("UploadPart: %v", err)
	}
	// An upload belongs to its key.
	id, err := b.CreateMultipart(ctx, key, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.ListParts(ctx, p+"other.bin", id); !errs.Is(err, errs.NotFound) {
		t.Errorf("ListParts under another key: %v", err)
	}
	if err := b.AbortMultipart(ctx, key, id); err != nil {
		t.Fatal(err)
	}
}
