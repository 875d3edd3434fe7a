package agentspec_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/openrescale/platform/shared/compute/agentspec"
)

func valid() agentspec.Spec {
	return agentspec.Spec{
		JobID: "AbCdE", RunID: "1", OwnerID: "uOwner", Analysis: "user_included", Cores: 2, Nodes: 1, CoresPerNode: 2,
		Bucket: "data", OutputPrefix: "user/user_uOwner/output/job_AbCdE/run1/",
		Inputs:  []agentspec.Input{{Name: "in.txt", Key: "user/user_uOwner/in.txt-1"}},
		Command: "echo hi", Env: map[string]string{"RESCALE_JOB_ID": "AbCdE"},
	}
}

func TestRoundTrip(t *testing.T) {
	v, err := valid().Encode()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(v, "\n") {
		t.Fatalf("encoded spec spans lines: %q", v)
	}
	got, err := agentspec.FromEnv(func(k string) string {
		if k != agentspec.EnvVar {
			t.Fatalf("read %s", k)
		}
		return v
	})
	if err != nil {
		t.Fatal(err)
	}
	want := valid()
	want.Version = agentspec.Version
	if got.Version != want.Version || got.JobID != want.JobID || got.Inputs[0] != want.Inputs[0] ||
		got.Env["RESCALE_JOB_ID"] != "AbCdE" || got.Command != want.Command || got.Nodes != 1 {
		t.Fatalf("round trip: %+v", got)
	}
}

// The field names are the interface with the agent, built separately: pin
// them.
func TestFieldNames(t *testing.T) {
	v, err := valid().Encode()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{`"version":1`, `"jobId":`, `"runId":`, `"ownerId":`, `"analysis":`, `"analysisVersion":`,
		`"coreType":`, `"cores":`, `"nodes":`, `"coresPerNode":`, `"storageBytes":`, `"bucket":`, `"outputPrefix":`,
		`"inputs":[{"name":"in.txt","key":`, `"command":`, `"preCommand":`, `"postCommand":`, `"useMpi":`,
		`"walltimeSeconds":`, `"include":`, `"exclude":`, `"env":`} {
		if !strings.Contains(v, f) {
			t.Errorf("encoded spec lacks %s: %s", f, v)
		}
	}
}

func TestRefusals(t *testing.T) {
	for name, tc := range map[string]struct {
		edit func(*agentspec.Spec)
		want string
	}{
		"no job":        {func(s *agentspec.Spec) { s.JobID = "" }, "missing jobId"},
		"no bucket":     {func(s *agentspec.Spec) { s.Bucket, s.OwnerID = "", "" }, "missing bucket, ownerId"},
		"prefix":        {func(s *agentspec.Spec) { s.OutputPrefix = "user/x" }, "does not end in /"},
		"no nodes":      {func(s *agentspec.Spec) { s.Nodes = 0 }, "nodes is 0"},
		"unnamed input": {func(s *agentspec.Spec) { s.Inputs[0].Name = "" }, "lacks a name"},
	} {
		t.Run(name, func(t *testing.T) {
			s := valid()
			tc.edit(&s)
			if _, err := s.Encode(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Encode: %v, want %q", err, tc.want)
			}
		})
	}
	for name, v := range map[string]string{
		"empty":   "",
		"garbage": "{",
		"version": `{"version":2,"jobId":"j","runId":"1","ownerId":"u","bucket":"b","outputPrefix":"p/","nodes":1}`,
	} {
		if _, err := agentspec.Decode(v); err == nil {
			t.Errorf("Decode %s: no error", name)
		}
	}
}

func TestTooLarge(t *testing.T) {
	s := valid()
	for range 400 {
		s.Inputs = append(s.Inputs, agentspec.Input{Name: strings.Repeat("n", 40), Key: strings.Repeat("k", 60)})
	}
	_, err := s.Encode()
	var tl *agentspec.TooLargeError
	if !errors.As(err, &tl) || tl.Inputs != 401 || tl.Bytes <= agentspec.MaxEncodedBytes {
		t.Fatalf("Encode of a huge spec: %v", err)
	}
}
