package jobs

import (
	"fmt"
	"strings"
	"testing"

	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/store"
)

// Each validation limit at its edge: the largest (or smallest) accepted
// value and the first refused, written as docs/api-decisions.md states
// them rather than read from the constants.
func TestValidationLimits(t *testing.T) {
	engines(t, func(t *testing.T, st store.Store) {
		f := newFixture(t, st, nil)
		analysis := func(hardware, extra string) string {
			return fmt.Sprintf(`{"analysis": {"code": "user_included"}, "command": "run", "hardware": %s%s}`, hardware, extra)
		}
		job := func(extra string, analyses ...string) string {
			if len(analyses) == 0 {
				analyses = []string{analysis(`{"coreType": "standard-plus", "coresPerSlot": 1}`, "")}
			}
			return fmt.Sprintf(`{"name": "x"%s, "jobanalyses": [%s]}`, extra, strings.Join(analyses, ", "))
		}
		hw := func(fields string) string {
			return analysis(`{"coreType": "standard-plus", "coresPerSlot": 1, `+fields+`}`, "")
		}
		feature := func(count int) string {
			return analysis(`{"coreType": "standard-plus", "coresPerSlot": 1}`,
				fmt.Sprintf(`, "userDefinedLicenseSettings": {"featureSets": [{"name": "S", "features": [{"name": "F", "count": %d}]}]}`, count))
		}
		variables := func(n int) string {
			vs := make([]string, n)
			for i := range vs {
				vs[i] = fmt.Sprintf(`{"name": "v%d", "variableType": "Param"}`, i)
			}
			return `, "jobvariables": [` + strings.Join(vs, ", ") + `]`
		}
		many := func(n int) []string {
			out := make([]string, n)
			for i := range out {
				out[i] = analysis(`{"coreType": "standard-plus", "coresPerSlot": 1}`, "")
			}
			return out
		}
		tests := []struct {
			name, body, field string // field "": accepted
		}{
			{"name of 200 characters", `{"name": "` + strings.Repeat("é", 200) + `", "jobanalyses": [` + many(1)[0] + `]}`, ""},
			{"name of 201 characters", `{"name": "` + strings.Repeat("é", 201) + `", "jobanalyses": [` + many(1)[0] + `]}`, "name"},
			{"20 analyses", job("", many(20)...), ""},
			{"21 analyses", job("", many(21)...), "jobanalyses"},
			{"1000 variables", job(variables(1000)), ""},
			{"1001 variables", job(variables(1001)), "jobvariables"},
			{"monte carlo 0", job(`, "monteCarloIterations": 0`), ""},
			{"monte carlo 100000", job(`, "monteCarloIterations": 100000`), ""},
			{"monte carlo 100001", job(`, "monteCarloIterations": 100001`), "monteCarloIterations"},
			{"1 slot", job("", hw(`"slots": 1`)), ""},
			{"0 slots", job("", hw(`"slots": 0`)), "jobanalyses[0].hardware.slots"},
			{"1000 slots", job("", hw(`"slots": 1000`)), ""},
			{"1001 slots", job("", hw(`"slots": 1001`)), "jobanalyses[0].hardware.slots"},
			{"walltime 1", job("", hw(`"walltime": 1`)), ""},
			{"walltime 0", job("", hw(`"walltime": 0`)), "jobanalyses[0].hardware.walltime"},
			{"walltime 8760", job("", hw(`"walltime": 8760`)), ""},
			{"walltime 8761", job("", hw(`"walltime": 8761`)), "jobanalyses[0].hardware.walltime"},
			{"licence feature count 1", job("", feature(1)), ""},
			{"licence feature count 1000000", job("", feature(1000000)), ""},
			{"licence feature count 1000001", job("", feature(1000001)), "jobanalyses[0].userDefinedLicenseSettings.featureSets[0].features[0].count"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				spec, err := ParseSpec([]byte(tt.body))
				if err == nil {
					_, err = f.svc.Create(t.Context(), alice, spec)
				}
				if tt.field == "" {
					if err != nil {
						t.Fatalf("refused: %v", err)
					}
					return
				}
				if e, ok := errs.As(err); !ok || e.Code != errs.Invalid || e.Field != tt.field {
					t.Fatalf("%v, want a 400 naming %s", err, tt.field)
				}
			})
		}
	})
}

// A job is shared with at most 50 users; sharing with one already there
// is not a new share.
func TestShareLimit(t *testing.T) {
	engines(t, func(t *testing.T, st store.Store) {
		f := newFixture(t, st, nil)
		j, err := f.svc.Create(t.Context(), alice, mustSpec(t, basic))
		if err != nil {
			t.Fatal(err)
		}
		for i := range 50 {
			if _, err := f.svc.Share(t.Context(), alice.UserID, j.ID, Owner{UserID: fmt.Sprintf("u%02d", i), Email: fmt.Sprintf("u%02d@example.com", i)}); err != nil {
				t.Fatalf("share %d of 50: %v", i+1, err)
			}
		}
		if _, err := f.svc.Share(t.Context(), alice.UserID, j.ID, Owner{UserID: "u07", Email: "u07@example.com"}); err != nil {
			t.Fatalf("share again with a recipient: %v", err)
		}
		_, err = f.svc.Share(t.Context(), alice.UserID, j.ID, Owner{UserID: "u50", Email: "u50@example.com"})
		if e, ok := errs.As(err); !ok || e.Code != errs.Invalid || e.Field != "email" || !strings.Contains(e.Message, "at most 50") {
			t.Fatalf("share 51: %v", err)
		}
		got, _, err := f.svc.Get(t.Context(), alice.UserID, j.ID)
		if err != nil || len(got.SharedWith) != 50 {
			t.Fatalf("%d recipients (%v)", len(got.SharedWith), err)
		}
		// Deleting the job removes every share in one go.
		if err := f.svc.Delete(t.Context(), alice.UserID, []string{j.ID}, false); err != nil {
			t.Fatalf("delete a job with 50 shares: %v", err)
		}
		if _, _, err := f.svc.Get(t.Context(), "u07", j.ID); !errs.Is(err, errs.NotFound) {
			t.Fatalf("recipient after delete: %v", err)
		}
	})
}
