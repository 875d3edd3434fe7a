package files

import (
	"bytes"
	"crypto/md5"
	"crypto/sha512"
	"encoding/hex"
	"io"
	"testing"
	"testing/iotest"
)

func TestHashingReader(t *testing.T) {
	data := bytes.Repeat([]byte("the quick brown fox "), 100000)
	for name, r := range map[string]io.Reader{
		"whole":    bytes.NewReader(data),
		"one byte": iotest.OneByteReader(bytes.NewReader(data[:5000])),
		"half":     iotest.HalfReader(bytes.NewReader(data)),
		"data+EOF": iotest.DataErrReader(bytes.NewReader(data)),
		"empty":    bytes.NewReader(nil),
	} {
		want := data
		if name == "one byte" {
			want = data[:5000]
		}
		if name == "empty" {
			want = nil
		}
		h := newHashingReader(r)
		var out bytes.Buffer
		if _, err := io.CopyBuffer(&out, h, make([]byte, 7777)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		gotM, gotS := h.sums()
		wm, ws := md5.Sum(want), sha512.Sum512(want)
		if !bytes.Equal(out.Bytes(), want) || gotM != hex.EncodeToString(wm[:]) || gotS != hex.EncodeToString(ws[:]) {
			t.Errorf("%s: %d bytes, md5 %s, sha512 %.16s…", name, out.Len(), gotM, gotS)
		}
		h.stop() // idempotent, as Upload's deferred stop after sums
	}
	// A failing body: the hashers stop without sums.
	h := newHashingReader(iotest.TimeoutReader(bytes.NewReader(data)))
	if _, err := io.Copy(io.Discard, h); err == nil {
		t.Fatal("no error from a failing body")
	}
	h.stop()
}
