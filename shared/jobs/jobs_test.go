package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/openrescale/platform/shared/store/enginetest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openrescale/platform/shared/catalog"
	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/files"
	"github.com/openrescale/platform/shared/store"
	"github.com/openrescale/platform/shared/store/boltstore"
	"github.com/openrescale/platform/shared/store/dynamostore/dynamolocal"
)

func TestMain(m *testing.M) { dynamolocal.Main(m) }

var (
	alice = Owner{UserID: "ualice", Email: "alice@example.com"}
	bob   = Owner{UserID: "ubob", Email: "bob@example.com"}
)

// engines runs fn against each store engine.
func engines(t *testing.T, fn func(t *testing.T, st store.Store)) { enginetest.Run(t, fn) }

type fixture struct {
	svc   *Service
	files *files.Repo
	st    store.Store
}

type removed struct {
	mu  sync.Mutex
	ids []string
}

func (r *removed) Delete(ctx context.Context, f files.File) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ids = append(r.ids, f.ID)
	return nil
}

func newFixture(t *testing.T, st store.Store, rm FileRemover) fixture {
	t.Helper()
	cat, err := catalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	fr := files.NewRepo(st)
	return fixture{svc: New(st, cat, fr, rm, newTicking().now), files: fr, st: st}
}

// ticking is a clock that moves 1 ms at every reading, so creation times
// are distinct and ordered without sleeping.
type ticking struct{ ns atomic.Int64 }

func newTicking() *ticking {
	c := &ticking{}
	c.ns.Store(time.Now().UnixNano())
	return c
}

func (c *ticking) now() time.Time { return time.Unix(0, c.ns.Add(int64(time.Millisecond))).UTC() }

func (f fixture) file(t *testing.T, o Owner, id string, size int64) {
	t.Helper()
	_, err := f.files.Create(t.Context(), files.File{ID: id, OwnerID: o.UserID, OwnerEmail: o.Email, Name: id + ".zip",
		TypeID: files.TypeInput, DateUploaded: time.Now(), Key: files.NewKey(o.UserID, id), Size: size, IsUploaded: true})
	if err != nil {
		t.Fatal(err)
	}
}

func mustSpec(t *testing.T, body string) Spec {
	t.Helper()
	s, err := ParseSpec([]byte(body))
	if err != nil {
		t.Fatalf("parse %s: %v", body, err)
	}
	return s
}

const basic = `{"name": "Example Job", "jobanalyses": [{"analysis": {"code": "user_included", "version": "0"},
	"command": "echo hi", "hardware": {"coreType": "standard-plus", "coresPerSlot": 1}}]}`

func TestCreateGetNormalises(t *testing.T) {
	engines(t, func(t *testing.T, st store.Store) {
		f := newFixture(t, st, nil)
		f.file(t, alice, "inA", 100)
		spec := mustSpec(t, `{"name": " Basic ", "jobanalyses": [{"analysis": {"code": "openfoam"}, "command": "./Allrun",
			"hardware": {"coreType": {"code": "standard-plus"}, "coresPerSlot": "2"}, "inputFiles": [{"id": "inA"}]}]}`)
		j, err := f.svc.Create(t.Context(), alice, spec)
		if err != nil {
			t.Fatal(err)
		}
		got, owned, err := f.svc.Get(t.Context(), alice.UserID, j.ID)
		if err != nil || !owned {
			t.Fatalf("get: %v owned=%v", err, owned)
		}
		ja := got.Spec.JobAnalyses[0]
		if got.Spec.Name != "Basic" || ja.Analysis.Version != "v1912-openmpi" || ja.Hardware.CoreType != "standard-plus" ||
			ja.Hardware.CoresPerSlot != 2 || ja.Hardware.Slots != 1 || got.InputBytes != 100 || got.Status != StatusSaved {
			t.Fatalf("job %+v", got)
		}
		if _, _, err := f.svc.Get(t.Context(), bob.UserID, j.ID); !errs.Is(err, errs.NotFound) {
			t.Fatalf("bob sees alice's job: %v", err)
		}
	})
}

// TestValidation covers every rule with the field it names and its message.
func TestValidation(t *testing.T) {
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "store.db"), boltstore.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	f := newFixture(t, st, nil)
	f.file(t, alice, "mine", 1)
	f.file(t, bob, "theirs", 1)
	ja := func(analysis, hardware, extra string) string {
		return fmt.Sprintf(`{"name": "x", "jobanalyses": [{"analysis": %s, "command": "run", "hardware": %s%s}]}`, analysis, hardware, extra)
	}
	uic := `{"code": "user_included"}`
	sp := `{"coreType": "standard-plus", "coresPerSlot": 1}`
	tests := []struct {
		name, body, field, msg string
	}{
		{"missing name", `{"jobanalyses": []}`, "name", "this field is required"},
		{"blank name", `{"name": "  ", "jobanalyses": []}`, "name", "this field is required"},
		{"missing jobanalyses", `{"name": "x"}`, "jobanalyses", "at least one analysis"},
		{"empty jobanalyses", `{"name": "x", "jobanalyses": []}`, "jobanalyses", "at least one analysis"},
		{"name wrong type", `{"name": 3}`, "name", "expected string"},
		{"jobanalyses wrong type", `{"name": "x", "jobanalyses": {}}`, "jobanalyses", "expected a list"},
		{"missing analysis code", ja(`{}`, sp, ""), "jobanalyses[0].analysis.code", "this field is required"},
		{"unknown analysis", ja(`{"code": "nope"}`, sp, ""), "jobanalyses[0].analysis.code", `unknown analysis code "nope"`},
		{"unknown version", ja(`{"code": "openfoam", "version": "9"}`, sp, ""), "jobanalyses[0].analysis.version", `no version "9"`},
		{"missing command", `{"name": "x", "jobanalyses": [{"analysis": {"code": "user_included"}, "hardware": {"coreType": "standard-plus"}}]}`, "jobanalyses[0].command", "this field is required"},
		{"missing hardware", `{"name": "x", "jobanalyses": [{"analysis": {"code": "user_included"}, "command": "x"}]}`, "jobanalyses[0].hardware.coreType", "coreType or a coreClass is required"},
		{"unknown coretype", ja(uic, `{"coreType": "warp"}`, ""), "jobanalyses[0].hardware.coreType", `unknown coretype "warp"`},
		{"deprecated coretype", ja(uic, `{"coreType": "gpu-kepler", "coresPerSlot": 2}`, ""), "jobanalyses[0].hardware.coreType", "deprecated"},
		{"coretype not allowed", ja(`{"code": "openfoam"}`, `{"coreType": "emerald", "coresPerSlot": 1}`, ""), "jobanalyses[0].hardware.coreType", `does not run on coretype "emerald"`},
		{"coretype wrong type", ja(uic, `{"coreType": 7}`, ""), "jobanalyses[0].hardware.coreType", `expected a string or {"code": ...}`},
		{"both coreType and coreClass", ja(uic, `{"coreType": "standard-plus", "coreClass": {"code": "standard-plus-od"}}`, ""), "jobanalyses[0].hardware", "not both"},
		{"malformed coreClass", ja(uic, `{"coreClass": {"code": "standard-plus"}}`, ""), "jobanalyses[0].hardware.coreClass", "not a coretype set"},
		{"coreClass unknown coretype", ja(uic, `{"coreClass": {"code": "warp-od"}}`, ""), "jobanalyses[0].hardware.coreClass", `unknown coretype "warp"`},
		{"cores not offered", ja(uic, `{"coreType": "standard-plus", "coresPerSlot": 3}`, ""), "jobanalyses[0].hardware.coresPerSlot", "not 3"},
		{"cores not a number", ja(uic, `{"coreType": "standard-plus", "coresPerSlot": "two"}`, ""), "jobanalyses[0].hardware.coresPerSlot", "expected an integer"},
		{"negative slots", ja(uic, `{"coreType": "standard-plus", "coresPerSlot": 1, "slots": -1}`, ""), "jobanalyses[0].hardware.slots", "at least 1"},
		{"negative walltime", ja(uic, `{"coreType": "standard-plus", "coresPerSlot": 1, "walltime": -5}`, ""), "jobanalyses[0].hardware.walltime", "positive"},
		{"walltime required", ja(uic, `{"coreType": "hpc", "coresPerSlot": 96}`, ""), "jobanalyses[0].hardware.walltime", `coretype "hpc" requires a walltime`},
		{"no rescale licence", ja(uic, sp, `, "useRescaleLicense": true`), "jobanalyses[0].useRescaleLicense", "provides no licence"},
		{"unknown code with version", ja(`{"code": "nope", "version": "1"}`, sp, ""), "jobanalyses[0].analysis.code", `unknown analysis code "nope"`},
		{"unknown input file", ja(uic, sp, `, "inputFiles": [{"id": "mine"}, {"id": "nofile"}]`), "jobanalyses[0].inputFiles[1].id", `file "nofile" not found`},
		{"another user's file", ja(uic, sp, `, "inputFiles": [{"id": "theirs"}]`), "jobanalyses[0].inputFiles[0].id", `file "theirs" not found`},
		{"input file wrong type", ja(uic, sp, `, "inputFiles": ["mine"]`), "jobanalyses[0].inputFiles[0]", "expected an object"},
		{"envVars wrong type", ja(uic, sp, `, "envVars": {"A": 1}`), "jobanalyses[0].envVars", "expected string"},
		{"template file of another user", ja(uic, sp, `, "templateTasks": [{"processedFilename": "a", "templateFile": {"id": "theirs"}}]`), "jobanalyses[0].templateTasks[0].templateFile.id", "not found"},
		{"licence seller and settings", ja(uic, sp, `, "onDemandLicenseSeller": {"code": "x", "name": "X"}, "userDefinedLicenseSettings": {"featureSets": []}`), "jobanalyses[0].userDefinedLicenseSettings", "not both"},
		{"licence feature count", ja(uic, sp, `, "userDefinedLicenseSettings": {"featureSets": [{"name": "S", "features": [{"name": "F", "count": 0}]}]}`), "jobanalyses[0].userDefinedLicenseSettings.featureSets[0].features[0].count", "at least 1"},
		{"billing priority", `{"name": "x", "billingPriorityValue": "CHEAP", "jobanalyses": [{"analysis": {"code": "user_included"}, "command": "x", "hardware": {"coreType": "standard-plus"}}]}`, "billingPriorityValue", "INSTANT, ON_DEMAND, RESERVED"},
		{"negative monte carlo", `{"name": "x", "monteCarloIterations": -1, "jobanalyses": [{"analysis": {"code": "user_included"}, "command": "x", "hardware": {"coreType": "standard-plus"}}]}`, "monteCarloIterations", "not be negative"},
		{"variable type", `{"name": "x", "jobvariables": [{"name": "v", "variableType": "Bogus"}], "jobanalyses": [{"analysis": {"code": "user_included"}, "command": "x", "hardware": {"coreType": "standard-plus"}}]}`, "jobvariables[0].variableType", "must be one of"},
		{"duplicate input file", ja(uic, sp, `, "inputFiles": [{"id": "mine"}, {"id": "mine"}]`), "jobanalyses[0].inputFiles[1].id", `file "mine" is already inputFiles[0]`},
		{"too many input files", ja(uic, sp, `, "inputFiles": [`+strings.Repeat(`{"id": "mine"}, `, MaxInputFiles)+`{"id": "mine"}]`), "jobanalyses[0].inputFiles", "at most 1000 input files"},
		{"NUL in name", `{"name": "a\u0000b", "jobanalyses": [{"analysis": {"code": "user_included"}, "command": "x", "hardware": {"coreType": "standard-plus"}}]}`, "name", "U+0000 at byte 1"},
		{"bidi override in name", `{"name": "gnp\u202eexe", "jobanalyses": [{"analysis": {"code": "user_included"}, "command": "x", "hardware": {"coreType": "standard-plus"}}]}`, "name", "U+202E"},
		{"escape in variable name", `{"name": "x", "jobvariables": [{"name": "v\u001b[31m", "variableType": "Param"}], "jobanalyses": [{"analysis": {"code": "user_included"}, "command": "x", "hardware": {"coreType": "standard-plus"}}]}`, "jobvariables[0].name", "U+001B"},
		{"newline in feature name", ja(uic, sp, `, "userDefinedLicenseSettings": {"featureSets": [{"name": "S", "features": [{"name": "F\nG", "count": 1}]}]}`), "jobanalyses[0].userDefinedLicenseSettings.featureSets[0].features[0].name", "U+000A"},
		{"huge feature count", ja(uic, sp, `, "userDefinedLicenseSettings": {"featureSets": [{"name": "S", "features": [{"name": "F", "count": 9223372036854775807}]}]}`), "jobanalyses[0].userDefinedLicenseSettings.featureSets[0].features[0].count", "at most"},
		{"huge slots", ja(uic, `{"coreType": "standard-plus", "coresPerSlot": 1, "slots": 9223372036854775807}`, ""), "jobanalyses[0].hardware.slots", "at most 1000"},
		{"huge slots as string", ja(uic, `{"coreType": "standard-plus", "coresPerSlot": 1, "slots": "9223372036854775807"}`, ""), "jobanalyses[0].hardware.slots", "at most 1000"},
		{"huge walltime", ja(uic, `{"coreType": "standard-plus", "coresPerSlot": 1, "walltime": 9223372036854775807}`, ""), "jobanalyses[0].hardware.walltime", "at most 8760"},
		{"huge monte carlo", `{"name": "x", "monteCarloIterations": 9223372036854775807, "jobanalyses": [{"analysis": {"code": "user_included"}, "command": "x", "hardware": {"coreType": "standard-plus"}}]}`, "monteCarloIterations", "at most"},
		{"long coretype echoed clipped", ja(uic, `{"coreType": "`+strings.Repeat("w", 100000)+`"}`, ""), "jobanalyses[0].hardware.coreType", `unknown coretype "` + strings.Repeat("w", 64) + `…"`},
		{"param file missing", `{"name": "x", "paramFile": {"id": "nofile"}, "jobanalyses": [{"analysis": {"code": "user_included"}, "command": "x", "hardware": {"coreType": "standard-plus"}}]}`, "paramFile.id", "not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, err := ParseSpec([]byte(tt.body))
			if err == nil {
				_, err = f.svc.Create(t.Context(), alice, spec)
			}
			e, ok := errs.As(err)
			if !ok || e.Code != errs.Invalid || e.Field != tt.field || !strings.Contains(e.Message, tt.msg) {
				t.Fatalf("got %v (field %q), want field %q with %q", err, fieldOf(e), tt.field, tt.msg)
			}
		})
	}
	// And the accepted forms.
	for _, body := range []string{
		basic,
		ja(uic, `{"coreClass": {"code": "standard-plus-od-hpc-3-od"}, "coresPerSlot": 1}`, ""),
		ja(uic, `{"coreClass": "standard-plus-odp", "coresPerSlot": 4}`, ""),
		ja(`{"code": "ls_dyna", "version": "R13.0.0"}`, `{"coreType": "emerald", "coresPerSlot": 1, "slots": 1, "type": "compute", "walltime": 24}`,
			`, "envVars": {"LSTC_LICENSE_SERVER": "25678@172.00.00.000"}, "onDemandLicenseSeller": null, "userDefinedLicenseSettings": {"featureSets": [{"name": "USER_SPECIFIED", "features": [{"name": "MPPDYNA_971", "count": 1}]}]}, "inputFiles": [{"id": "mine"}]`),
	} {
		if _, err := f.svc.Create(t.Context(), alice, mustSpec(t, body)); err != nil {
			t.Errorf("%s: %v", body, err)
		}
	}
}

func fieldOf(e *errs.Error) string {
	if e == nil {
		return ""
	}
	return e.Field
}

func TestConcurrentPatchesBothApply(t *testing.T) {
	engines(t, func(t *testing.T, st store.Store) {
		f := newFixture(t, st, nil)
		j, err := f.svc.Create(t.Context(), alice, mustSpec(t, basic))
		if err != nil {
			t.Fatal(err)
		}
		patches := []string{`{"name": "renamed"}`, `{"isLowPriority": true}`, `{"projectId": "p1"}`, `{"billingPriorityValue": "INSTANT"}`}
		var wg sync.WaitGroup
		errc := make(chan error, len(patches))
		for _, p := range patches {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var m map[string]json.RawMessage
				json.Unmarshal([]byte(p), &m)
				_, err := f.svc.Patch(context.Background(), alice.UserID, j.ID, m)
				errc <- err
			}()
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			if err != nil {
				t.Fatal(err)
			}
		}
		got, _, err := f.svc.Get(t.Context(), alice.UserID, j.ID)
		if err != nil {
			t.Fatal(err)
		}
		s := got.Spec
		if s.Name != "renamed" || !s.IsLowPriority || s.ProjectID == nil || *s.ProjectID != "p1" || s.BillingPriorityValue == nil {
			t.Fatalf("a patch was lost: %+v", s)
		}
		if got.Version != int64(1+len(patches)) {
			t.Fatalf("version %d", got.Version)
		}
	})
}

// setStatus stands in for the submission code that does not exist yet.
func setStatus(t *testing.T, st store.Store, j Job, status string) {
	t.Helper()
	it, err := st.Get(t.Context(), userPK(j.OwnerID), jobSK(j.ID))
	if err != nil {
		t.Fatal(err)
	}
	cur, _ := decode(it)
	cur.Status = status
	s := &Service{}
	it2, _ := s.item(cur)
	if _, err := st.Put(t.Context(), it2, store.Cond{IfVersion: it.Version}); err != nil {
		t.Fatal(err)
	}
}

func TestSubmittedJobsKeepTheirSpec(t *testing.T) {
	engines(t, func(t *testing.T, st store.Store) {
		f := newFixture(t, st, nil)
		j, _ := f.svc.Create(t.Context(), alice, mustSpec(t, basic))
		setStatus(t, st, j, StatusExecuting)
		if _, err := f.svc.Patch(t.Context(), alice.UserID, j.ID, map[string]json.RawMessage{"name": []byte(`"new"`)}); err != nil {
			t.Fatalf("rename: %v", err)
		}
		_, err := f.svc.Patch(t.Context(), alice.UserID, j.ID, map[string]json.RawMessage{"isLowPriority": []byte(`true`)})
		if !errs.Is(err, errs.Conflict) {
			t.Fatalf("change after submit: %v", err)
		}
		if err := f.svc.Delete(t.Context(), alice.UserID, []string{j.ID}, false); !errs.Is(err, errs.Conflict) {
			t.Fatalf("delete running: %v", err)
		}
	})
}

func TestDelete(t *testing.T) {
	engines(t, func(t *testing.T, st store.Store) {
		rm := &removed{}
		f := newFixture(t, st, rm)
		f.file(t, alice, "in1", 5)
		j1, _ := f.svc.Create(t.Context(), alice, mustSpec(t, strings.Replace(basic, `"command"`, `"inputFiles": [{"id": "in1"}], "command"`, 1)))
		j2, _ := f.svc.Create(t.Context(), alice, mustSpec(t, basic))
		j3, _ := f.svc.Create(t.Context(), alice, mustSpec(t, basic))
		if _, err := f.svc.Share(t.Context(), alice.UserID, j1.ID, bob); err != nil {
			t.Fatal(err)
		}
		// All or nothing: one unknown id keeps every job.
		if err := f.svc.Delete(t.Context(), alice.UserID, []string{j1.ID, "nosuch"}, false); !errs.Is(err, errs.NotFound) {
			t.Fatalf("delete with unknown id: %v", err)
		}
		if used, err := f.svc.FileInUse(t.Context(), alice.UserID, "in1"); err != nil || used {
			t.Fatalf("saved job holds its input: %v %v", used, err)
		}
		setStatus(t, st, j1, StatusExecuting)
		if used, err := f.svc.FileInUse(t.Context(), alice.UserID, "in1"); err != nil || !used {
			t.Fatalf("running job's input not in use: %v %v", used, err)
		}
		setStatus(t, st, j1, StatusCompleted)
		setStatus(t, st, j3, StatusQueued)
		if err := f.svc.Delete(t.Context(), alice.UserID, []string{j1.ID, j3.ID}, false); !errs.Is(err, errs.Conflict) {
			t.Fatalf("delete with queued job: %v", err)
		}
		if _, _, err := f.svc.Get(t.Context(), alice.UserID, j1.ID); err != nil {
			t.Fatalf("j1 gone after failed delete: %v", err)
		}
		if err := f.svc.Delete(t.Context(), bob.UserID, []string{j1.ID}, false); !errs.Is(err, errs.Forbidden) {
			t.Fatalf("recipient delete: %v", err)
		}
		if err := f.svc.Delete(t.Context(), alice.UserID, []string{j1.ID, j2.ID}, true); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{j1.ID, j2.ID} {
			if _, _, err := f.svc.Get(t.Context(), alice.UserID, id); !errs.Is(err, errs.NotFound) {
				t.Fatalf("%s still there: %v", id, err)
			}
		}
		if len(rm.ids) != 1 || rm.ids[0] != "in1" {
			t.Fatalf("removed input files %v", rm.ids)
		}
		shared, n, err := f.svc.List(t.Context(), bob.UserID, ListOptions{Scope: ScopeShared})
		if err != nil || n != 0 || len(shared) != 0 {
			t.Fatalf("share survived delete: %v %d", err, n)
		}
		if _, err := st.Get(t.Context(), jobIDPK(j1.ID), jobIDSK); !errs.Is(err, errs.NotFound) {
			t.Fatalf("id record survived: %v", err)
		}
	})
}

func TestListShareTags(t *testing.T) {
	engines(t, func(t *testing.T, st store.Store) {
		f := newFixture(t, st, nil)
		var mine []Job
		for i := range 3 {
			j, err := f.svc.Create(t.Context(), alice, mustSpec(t, strings.Replace(basic, "Example Job", fmt.Sprint("job", i), 1)))
			if err != nil {
				t.Fatal(err)
			}
			mine = append(mine, j)
		}
		bobs, _ := f.svc.Create(t.Context(), bob, mustSpec(t, basic))
		page, total, err := f.svc.List(t.Context(), alice.UserID, ListOptions{Scope: ScopeOwned, Offset: 0, Limit: 2})
		if err != nil || total != 3 || len(page) != 2 || page[0].ID != mine[2].ID || page[1].ID != mine[1].ID {
			t.Fatalf("page 1: %v %d %v", err, total, page)
		}
		if _, err := f.svc.Share(t.Context(), alice.UserID, mine[0].ID, bob); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Share(t.Context(), alice.UserID, mine[0].ID, bob); err != nil {
			t.Fatalf("share again: %v", err)
		}
		if _, err := f.svc.Share(t.Context(), alice.UserID, mine[0].ID, alice); !errs.Is(err, errs.Invalid) {
			t.Fatalf("share with self: %v", err)
		}
		got, owned, err := f.svc.Get(t.Context(), bob.UserID, mine[0].ID)
		if err != nil || owned || len(got.SharedWith) != 1 || got.SharedWith[0] != bob.Email {
			t.Fatalf("recipient get: %v %v %v", err, owned, got.SharedWith)
		}
		if _, err := f.svc.Patch(t.Context(), bob.UserID, mine[0].ID, map[string]json.RawMessage{"name": []byte(`"mine now"`)}); !errs.Is(err, errs.Forbidden) {
			t.Fatalf("recipient patch: %v", err)
		}
		shared, n, _ := f.svc.List(t.Context(), bob.UserID, ListOptions{Scope: ScopeShared})
		if n != 1 || shared[0].ID != mine[0].ID {
			t.Fatalf("shared list %v", shared)
		}
		all, n, _ := f.svc.List(t.Context(), bob.UserID, ListOptions{Scope: ScopeAll})
		if n != 2 || all[0].ID != bobs.ID || all[1].ID != mine[0].ID {
			t.Fatalf("all list %v", all)
		}
		only := func(j Job) bool { return j.Spec.Name == "job1" }
		if l, n, _ := f.svc.List(t.Context(), alice.UserID, ListOptions{Scope: ScopeOwned, Match: only}); n != 1 || l[0].ID != mine[1].ID {
			t.Fatalf("filtered %v", l)
		}
		tag, _ := files.NewTag("new - tag _ 1")
		f.svc.AddTag(t.Context(), alice.UserID, mine[1].ID, tag)
		j, err := f.svc.AddTag(t.Context(), alice.UserID, mine[1].ID, files.Tag{Name: "NewTag1", NormalizedName: "newtag1"})
		if err != nil || len(j.Tags) != 1 {
			t.Fatalf("tags %v %v", err, j.Tags)
		}
		j, err = f.svc.RemoveTag(t.Context(), alice.UserID, mine[1].ID, tag)
		if err != nil || len(j.Tags) != 0 {
			t.Fatalf("remove tag %v %v", err, j.Tags)
		}
	})
}
