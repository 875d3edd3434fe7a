package awsbatch

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestDeploymentRoundTrip(t *testing.T) {
	d := Deployment{
		Queues:      map[string]Queue{"emerald": {Queue: "q-emerald", CoresPerNode: 4, VCPUsPerCore: 2, MaxNodes: 8, MemoryMiBPerNode: 15000, StorageBytesPerNode: 100 << 30}},
		Definitions: map[string]Definition{DefaultDefinition: {Single: "def-single", Multi: "def-multi"}},
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseDeployment(string(b))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, d) {
		t.Fatalf("round trip: %+v, want %+v", got, d)
	}
}

func TestParseDeploymentRefuses(t *testing.T) {
	for _, s := range []string{``, `{`, `{"queue":{}}`, `{"queues":{"x":{"queu":"a"}}}`} {
		if _, err := ParseDeployment(s); err == nil {
			t.Errorf("ParseDeployment(%q) accepted", s)
		}
	}
}
