package worker

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTail(t *testing.T) {
	long := strings.Repeat("x", tailChunk*2+17) // a line longer than two chunks
	var mb strings.Builder
	for i := range 20000 {
		mb.WriteString(strings.Repeat("y", i%7) + "\n")
	}
	many := mb.String()
	tests := []struct {
		name    string
		content string
		lines   int
		want    string
	}{
		{"empty file", "", 5, ""},
		{"fewer lines than asked", "a\nb\n", 5, "a\nb\n"},
		{"last two", "a\nb\nc\n", 2, "b\nc\n"},
		{"no final newline", "a\nb\nc", 2, "b\nc"},
		{"one line without newline", "only", 1, "only"},
		{"empty lines count", "a\n\n\n", 2, "\n\n"},
		{"zero lines", "a\nb\n", 0, ""},
		{"long lines across chunks", "first\n" + long + "\n" + long + "\n", 1, long + "\n"},
		{"many lines across chunks", many, 3, strings.Join(strings.Split(many, "\n")[19997:], "\n")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "f.log"), []byte(tt.content), 0o644)
			var b bytes.Buffer
			if err := Tail(dir, "f.log", tt.lines, &b); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.want {
				t.Errorf("Tail = %q, want %q", b.String(), tt.want)
			}
		})
	}
}

func TestListDir(t *testing.T) {
	dir := collectTree(t)
	ents, err := ListDir(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name)
	}
	if strings.Join(names, ",") != "case,case.zip,escape,escape-dir,process_output.log" {
		t.Errorf("names = %v", names)
	}
	if !ents[0].Dir || ents[1].Size != 3 || ents[2].Mode&os.ModeSymlink == 0 || ents[3].Dir {
		t.Errorf("entries = %+v", ents)
	}
	sub, err := ListDir(dir, "case/313/")
	if err != nil || len(sub) != 1 || sub[0].Path != "case/313/U" || sub[0].Size != 1 {
		t.Errorf("ListDir(case/313/) = %+v, %v", sub, err)
	}
}

// TestPathSafety: ListDir and Tail refuse what leads out of the directory,
// by name or through a symlink.
func TestPathSafety(t *testing.T) {
	dir := collectTree(t)
	tests := []struct {
		name string
		rel  string
	}{
		{"parent", ".."},
		{"dot-dot inside", "case/../../outside-secret.txt"},
		{"absolute", "/etc/passwd"},
		{"symlink out", "escape"},
		{"symlink dir out", "escape-dir"},
		{"through symlink dir", "escape-dir/outside-secret.txt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := Tail(dir, tt.rel, 10, &b); err == nil || strings.Contains(b.String(), "secret") {
				t.Errorf("Tail(%q) = %q, %v; want an error", tt.rel, b.String(), err)
			}
			if ents, err := ListDir(dir, tt.rel); err == nil {
				t.Errorf("ListDir(%q) = %v, want an error", tt.rel, ents)
			}
		})
	}
	if _, err := ListDir(dir, "../x"); !errors.Is(err, ErrUnsafePath) {
		t.Errorf("ListDir(../x) err = %v, want ErrUnsafePath", err)
	}
	var b bytes.Buffer
	if err := Tail(dir, "case/inside-link", 1, &b); err != nil || b.String() != "schemes" {
		t.Errorf("a symlink inside the directory: %q, %v", b.String(), err)
	}
}

func TestCheckDisk(t *testing.T) {
	dir := t.TempDir()
	if err := CheckDisk(dir, 1); err != nil {
		t.Errorf("1 byte: %v", err)
	}
	if err := CheckDisk(dir, 1<<62); !errors.Is(err, ErrNoSpace) {
		t.Errorf("4 EiB: err = %v, want ErrNoSpace", err)
	}
	if err := CheckDisk(filepath.Join(dir, "missing"), 1); err == nil || errors.Is(err, ErrNoSpace) {
		t.Errorf("missing dir: err = %v", err)
	}
}
