package customfields

import (
	"encoding/json"
	"github.com/openrescale/platform/shared/store/enginetest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openrescale/platform/shared/accounts"
	"github.com/openrescale/platform/shared/catalog"
	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/files"
	"github.com/openrescale/platform/shared/jobs"
	"github.com/openrescale/platform/shared/store"
	"github.com/openrescale/platform/shared/store/dynamostore/dynamolocal"
)

func TestMain(m *testing.M) { dynamolocal.Main(m) }

// engines runs fn against each store engine.
func engines(t *testing.T, fn func(t *testing.T, st store.Store)) { enginetest.Run(t, fn) }

type fixture struct {
	svc        *Service
	jobs       *jobs.Service
	files      *files.Repo
	st         store.Store
	alice, bob jobs.Owner
	carol      jobs.Owner
}

func newFixture(t *testing.T, st store.Store) fixture {
	t.Helper()
	cat, err := catalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	acc := accounts.New(st, time.Now)
	f := fixture{st: st, files: files.NewRepo(st)}
	for _, p := range []struct {
		o     *jobs.Owner
		email string
	}{{&f.alice, "alice@example.com"}, {&f.bob, "bob@example.com"}, {&f.carol, "carol@example.com"}} {
		u, err := acc.EnsureUser(t.Context(), p.email)
		if err != nil {
			t.Fatal(err)
		}
		*p.o = jobs.Owner{UserID: u.ID, Email: u.Email}
	}
	f.jobs = jobs.New(st, cat, f.files, nil, time.Now)
	if f.svc, err = New(st, f.jobs, f.files, acc, time.Now); err != nil {
		t.Fatal(err)
	}
	return f
}

const basic = `{"name": "Example Job", "jobanalyses": [{"analysis": {"code": "user_included", "version": "0"},
	"command": "echo hi", "hardware": {"coreType": "standard-plus", "coresPerSlot": 1}}]}`

func (f fixture) job(t *testing.T, o jobs.Owner) jobs.Job {
	t.Helper()
	spec, err := jobs.ParseSpec([]byte(basic))
	if err != nil {
		t.Fatal(err)
	}
	j, err := f.jobs.Create(t.Context(), o, spec)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// setStatus stands in for submission, which does not exist yet.
func (f fixture) setStatus(t *testing.T, j jobs.Job, status string) {
	t.Helper()
	it, err := f.st.Get(t.Context(), "USER#"+j.OwnerID, "JOB#"+j.ID)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(it.Data, &m)
	m["status"] = status
	it.Data, _ = json.Marshal(m)
	if _, err := f.st.Put(t.Context(), it, store.Cond{IfVersion: it.Version}); err != nil {
		t.Fatal(err)
	}
}

func raw(m map[string]string) map[string]json.RawMessage {
	out := map[string]json.RawMessage{}
	for k, v := range m {
		out[k] = json.RawMessage(v)
	}
	return out
}

func wantCode(t *testing.T, err error, code, msg string) {
	t.Helper()
	if !errs.Is(err, code) {
		t.Fatalf("got %v, want %s", err, code)
	}
	if msg != "" && !strings.Contains(err.Error(), msg) {
		t.Fatalf("%v does not mention %q", err, msg)
	}
}

func TestValuesRoundTrip(t *testing.T) {
	engines(t, func(t *testing.T, st store.Store) {
		f := newFixture(t, st)
		j := f.job(t, f.alice)
		if _, err := f.files.Create(t.Context(), files.File{ID: "fileA", OwnerID: f.alice.UserID, OwnerEmail: f.alice.Email, Name: "a.txt",
			TypeID: files.TypeInput, DateUploaded: time.Now(), Key: files.NewKey(f.alice.UserID, "fileA"), IsUploaded: true}); err != nil {
			t.Fatal(err)
		}
		got, err := f.svc.SetValues(t.Context(), f.alice, j.ID, raw(map[string]string{
			"Deadline": `"2023-12-05"`, "Development Status": `"Exploration"`, "Study": `"test study"`,
			"Crank Length": `"4.2e-10"`, "Reviewer": `"Bob@Example.com"`, "Reference Report": `"fileA"`,
			"Material Property": `["Aluminum", "Steel"]`,
		}))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 7 || string(got["Deadline"].Value) != `"2023/12/05"` || got["Deadline"].User != "alice@example.com" ||
			got["Deadline"].Meta.HelpText != "Enter the date you expect the study to be completed." ||
			string(got["Crank Length"].Value) != `4.2e-10` || string(got["Reviewer"].Value) != `"bob@example.com"` {
			t.Fatalf("values %+v", got)
		}
		back, err := f.svc.Values(t.Context(), f.alice.UserID, j.ID)
		if err != nil || len(back) != 7 || string(back["Material Property"].Value) != `["Aluminum","Steel"]` {
			t.Fatalf("values %v %+v", err, back)
		}
		// null clears an optional value.
		got, err = f.svc.SetValues(t.Context(), f.alice, j.ID, raw(map[string]string{"Study": `null`}))
		if _, ok := got["Study"]; err != nil || ok || len(got) != 6 {
			t.Fatalf("clear: %v %+v", err, got)
		}
		// One bad value writes nothing.
		_, err = f.svc.SetValues(t.Context(), f.alice, j.ID, raw(map[string]string{"Study": `"s"`, "Deadline": `"someday"`}))
		wantCode(t, err, errs.Invalid, `Deadline: "someday" is not a date`)
		_, err = f.svc.SetValues(t.Context(), f.alice, j.ID, raw(map[string]string{"Colour": `"red"`}))
		wantCode(t, err, errs.Invalid, "Colour: this job has no custom field of that name")
		if e, _ := errs.As(err); e.Field != "customFields.Colour" {
			t.Fatalf("field %q", e.Field)
		}
		_, err = f.svc.SetValues(t.Context(), f.alice, j.ID, raw(map[string]string{"Reference Report": `"nope"`}))
		wantCode(t, err, errs.Invalid, `Reference Report: file "nope" does not exist`)
		if back, _ := f.svc.Values(t.Context(), f.alice.UserID, j.ID); len(back) != 6 {
			t.Fatalf("after failures %+v", back)
		}
	})
}

func TestOwnerIsolationAndShares(t *testing.T) {
	engines(t, func(t *testing.T, st store.Store) {
		f := newFixture(t, st)
		j := f.job(t, f.alice)
		if _, err := f.svc.SetValues(t.Context(), f.alice, j.ID, raw(map[string]string{"Study": `"s"`})); err != nil {
			t.Fatal(err)
		}
		// Another user's job does not exist for them.
		_, err := f.svc.Values(t.Context(), f.bob.UserID, j.ID)
		wantCode(t, err, errs.NotFound, "")
		_, err = f.svc.SetValues(t.Context(), f.bob, j.ID, raw(map[string]string{"Study": `"mine"`}))
		wantCode(t, err, errs.NotFound, "")
		_, err = f.svc.Assigned(t.Context(), f.bob.UserID, j.ID)
		wantCode(t, err, errs.NotFound, "")
		// A recipient reads but does not write.
		if _, err := f.jobs.Share(t.Context(), f.alice.UserID, j.ID, f.bob); err != nil {
			t.Fatal(err)
		}
		v, err := f.svc.Values(t.Context(), f.bob.UserID, j.ID)
		if err != nil || string(v["Study"].Value) != `"s"` {
			t.Fatalf("recipient read: %v %+v", err, v)
		}
		_, err = f.svc.SetValues(t.Context(), f.bob, j.ID, raw(map[string]string{"Study": `"mine"`}))
		wantCode(t, err, errs.Forbidden, "")
		_, err = f.svc.Assign(t.Context(), f.bob.UserID, j.ID, Sections{"Context": {{Name: "x", ValueType: TypeText}}})
		wantCode(t, err, errs.Forbidden, "")
		_, err = f.svc.Values(t.Context(), f.carol.UserID, j.ID)
		wantCode(t, err, errs.NotFound, "")
	})
}

func TestRequiredLockedAfterSubmit(t *testing.T) {
	engines(t, func(t *testing.T, st store.Store) {
		f := newFixture(t, st)
		j := f.job(t, f.alice)
		missing, err := f.svc.MissingRequired(t.Context(), j)
		if err != nil || len(missing) != 1 || missing[0] != "Project Code" {
			t.Fatalf("missing %v %v", missing, err)
		}
		if _, err := f.svc.SetValues(t.Context(), f.alice, j.ID, raw(map[string]string{"Project Code": `"PRJ-1"`})); err != nil {
			t.Fatal(err)
		}
		if missing, _ := f.svc.MissingRequired(t.Context(), j); len(missing) != 0 {
			t.Fatalf("missing %v", missing)
		}
		f.setStatus(t, j, jobs.StatusExecuting)
		_, err = f.svc.SetValues(t.Context(), f.alice, j.ID, raw(map[string]string{"Project Code": `"PRJ-2"`}))
		wantCode(t, err, errs.Conflict, "Project Code: required custom fields cannot change once job")
		_, err = f.svc.SetValues(t.Context(), f.alice, j.ID, raw(map[string]string{"Project Code": `null`}))
		wantCode(t, err, errs.Conflict, "Project Code")
		// The same value again (a GET sent back) and optional fields are fine.
		if _, err := f.svc.SetValues(t.Context(), f.alice, j.ID, raw(map[string]string{"Project Code": `"PRJ-1"`, "Recommendations": `"more cells"`})); err != nil {
			t.Fatal(err)
		}
		// No required field can be assigned to a submitted job.
		_, err = f.svc.Assign(t.Context(), f.alice.UserID, j.ID, Sections{"Findings": {{Name: "Signed Off", ValueType: TypeText, IsRequired: true}}})
		wantCode(t, err, errs.Conflict, "Signed Off")
		if _, err := f.svc.Assign(t.Context(), f.alice.UserID, j.ID, Sections{"Findings": {{Name: "Notes", ValueType: TypeText}}}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestAssign(t *testing.T) {
	engines(t, func(t *testing.T, st store.Store) {
		f := newFixture(t, st)
		j := f.job(t, f.alice)
		before, err := f.svc.Assigned(t.Context(), f.alice.UserID, j.ID)
		if err != nil {
			t.Fatal(err)
		}
		// The workspace's fields round-trip unchanged.
		if _, err := f.svc.Assign(t.Context(), f.alice.UserID, j.ID, before); err != nil {
			t.Fatalf("round trip: %v", err)
		}
		got, err := f.svc.Assign(t.Context(), f.alice.UserID, j.ID, Sections{"Inputs": {{Name: "Mesh Size", ValueType: TypeNumber}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(got["Inputs"]) != len(before["Inputs"])+1 || got["Inputs"][len(got["Inputs"])-1].Name != "Mesh Size" {
			t.Fatalf("assigned %+v", got["Inputs"])
		}
		if _, err := f.svc.SetValues(t.Context(), f.alice, j.ID, raw(map[string]string{"Mesh Size": `0.5`})); err != nil {
			t.Fatal(err)
		}
		// Redefining a workspace field, or a field whose value the new
		// definition refuses, is refused.
		_, err = f.svc.Assign(t.Context(), f.alice.UserID, j.ID, Sections{"Context": {{Name: "Study", ValueType: TypeNumber}}})
		wantCode(t, err, errs.Invalid, `"Study" is a workspace field`)
		_, err = f.svc.Assign(t.Context(), f.alice.UserID, j.ID, Sections{"Inputs": {{Name: "Mesh Size", ValueType: TypeDate}}})
		wantCode(t, err, errs.Conflict, "Mesh Size")
		// A compatible redefinition moves it and keeps the value.
		got, err = f.svc.Assign(t.Context(), f.alice.UserID, j.ID, Sections{"Findings": {{Name: "Mesh Size", ValueType: TypeNumber, HelpText: "metres"}}})
		if err != nil {
			t.Fatal(err)
		}
		if d, ok := got.Find("Mesh Size"); !ok || d.HelpText != "metres" || len(got["Inputs"]) != len(before["Inputs"]) {
			t.Fatalf("redefined %+v", got)
		}
		v, _ := f.svc.Values(t.Context(), f.alice.UserID, j.ID)
		if v["Mesh Size"].Meta.HelpText != "metres" || string(v["Mesh Size"].Value) != "0.5" {
			t.Fatalf("value %+v", v["Mesh Size"])
		}
		// Another job does not see this job's own fields.
		other := f.job(t, f.alice)
		_, err = f.svc.SetValues(t.Context(), f.alice, other.ID, raw(map[string]string{"Mesh Size": `1`}))
		wantCode(t, err, errs.Invalid, "Mesh Size")
	})
}

func TestConcurrentWritesAllApply(t *testing.T) {
	engines(t, func(t *testing.T, st store.Store) {
		f := newFixture(t, st)
		j := f.job(t, f.alice)
		names := []string{"Study", "CAD Part Number", "Cost Center", "Design Version", "Load Case", "Recommendations"}
		var wg sync.WaitGroup
		errc := make(chan error, len(names))
		for _, n := range names {
			wg.Go(func() {
				_, err := f.svc.SetValues(t.Context(), f.alice, j.ID, raw(map[string]string{n: `"v"`}))
				errc <- err
			})
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			if err != nil {
				t.Fatal(err)
			}
		}
		if v, _ := f.svc.Values(t.Context(), f.alice.UserID, j.ID); len(v) != len(names) {
			t.Fatalf("values %+v", v)
		}
	})
}

func TestDeletedJobTakesItsValues(t *testing.T) {
	engines(t, func(t *testing.T, st store.Store) {
		f := newFixture(t, st)
		j := f.job(t, f.alice)
		if _, err := f.svc.SetValues(t.Context(), f.alice, j.ID, raw(map[string]string{"Study": `"s"`})); err != nil {
			t.Fatal(err)
		}
		if err := f.jobs.Delete(t.Context(), f.alice.UserID, []string{j.ID}, false); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Get(t.Context(), userPK(j.OwnerID), recordSK(j.ID)); !errs.Is(err, errs.NotFound) {
			t.Fatalf("record after delete: %v", err)
		}
	})
}

func TestWorkspace(t *testing.T) {
	svc, err := New(nil, nil, nil, nil, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	ws, err := svc.Workspace("default", "01-000000001")
	if err != nil || len(ws.Fields.Compute["Context"]) == 0 || ws.Fields.Workstation == nil {
		t.Fatalf("%v %+v", err, ws)
	}
	for _, c := range [][2]string{{"rescale", "01-000000001"}, {"default", "03-066880176"}} {
		_, err := svc.Workspace(c[0], c[1])
		wantCode(t, err, errs.NotFound, "")
	}
}
