package customfields

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/openrescale/platform/shared/errs"
)

// fakeResolver knows one user and the files each user may read.
type fakeResolver struct{}

func (fakeResolver) UserEmail(_ context.Context, email string) (string, error) {
	if strings.EqualFold(strings.TrimSpace(email), "example@rescale.com") {
		return "example@rescale.com", nil
	}
	return "", errs.E(errs.NotFound, "no user")
}

func (fakeResolver) ReadableFile(_ context.Context, uid, id string) error {
	if uid == "ualice" && id == "fileA" {
		return nil
	}
	return errs.E(errs.NotFound, "Not found.")
}

func TestNormalize(t *testing.T) {
	text := Definition{Name: "Study", ValueType: TypeText}
	num := Definition{Name: "Crank Length", ValueType: TypeNumber}
	sel := Definition{Name: "Development Status", ValueType: TypeSelect, EnumOptions: []string{"Exploration", "Development", "Maintenance"}}
	multi := Definition{Name: "Material Property", ValueType: TypeSelect, EnumOptions: []string{"Aluminum", "Titanium", "Tungsten"}, IsMultiple: true, AllowOther: true}
	closedMulti := Definition{Name: "Checks", ValueType: TypeSelect, EnumOptions: []string{"a", "b"}, IsMultiple: true}
	date := Definition{Name: "Deadline", ValueType: TypeDate}
	user := Definition{Name: "Reviewer", ValueType: TypeUser}
	file := Definition{Name: "Reference Report", ValueType: TypeFile}
	dates := Definition{Name: "Milestones", ValueType: TypeDate, IsMultiple: true}

	tests := []struct {
		name string
		def  Definition
		in   string
		want string // normalised JSON; "" when an error is expected
		err  string // part of the message
	}{
		{"text", text, `"test study"`, `"test study"`, ""},
		{"text empty", text, `""`, `""`, ""},
		{"text number refused", text, `42`, "", `Study: expects a string (text), got 42`},
		{"text too long", text, `"` + strings.Repeat("x", MaxTextBytes+1) + `"`, "", "Study: text is longer than 4096 bytes"},
		{"text list for single", text, `["a"]`, "", "Study: expects a single text value, not a list"},

		{"number int", num, `42`, `42`, ""},
		{"number float", num, `4.2`, `4.2`, ""},
		{"number engineering", num, `4.2e-10`, `4.2e-10`, ""},
		{"number quoted", num, `"42"`, `42`, ""},
		{"number quoted spaces", num, `" 4.2E3 "`, `4.2E3`, ""},
		{"number word", num, `"forty"`, "", `Crank Length: expects a number such as 42, 4.2 or 4.2e-10, got "forty"`},
		{"number hex refused", num, `"0x10"`, "", `Crank Length: expects a number`},
		{"number NaN refused", num, `"NaN"`, "", `Crank Length: expects a number`},
		{"number out of range", num, `1e999`, "", "Crank Length: 1e999 is out of range"},
		{"number bool", num, `true`, "", "Crank Length: expects a number"},

		{"select option", sel, `"Exploration"`, `"Exploration"`, ""},
		{"select other refused", sel, `"Retired"`, "", `Development Status: "Retired" is not one of the options (Exploration, Development, Maintenance)`},
		{"select case matters", sel, `"exploration"`, "", `is not one of the options`},
		{"multi options", multi, `["Aluminum", "Titanium"]`, `["Aluminum","Titanium"]`, ""},
		{"multi empty", multi, `[]`, `[]`, ""},
		{"multi one other", multi, `["Aluminum", "Steel"]`, `["Aluminum","Steel"]`, ""},
		{"multi two others", multi, `["Steel", "Copper"]`, "", `Material Property: only one value may be outside the listed options, got "Copper" as a second (item 1)`},
		{"multi duplicate", multi, `["Aluminum", "Aluminum"]`, "", "Material Property: Aluminum is listed twice"},
		{"multi single value refused", multi, `"Aluminum"`, "", "Material Property: expects a list of select values (isMultiple), even for one value"},
		{"multi blank other", multi, `["  "]`, "", "Material Property: an answer of your own must be non-blank"},
		{"closed multi other", closedMulti, `["a", "c"]`, "", `Checks: "c" is not one of the options (a, b) (item 1)`},

		{"date slashes", date, `"2023/12/05"`, `"2023/12/05"`, ""},
		{"date dashes", date, `"2023-12-05"`, `"2023/12/05"`, ""},
		{"date unpadded", date, `"2023-1-5"`, `"2023/01/05"`, ""},
		{"date ISO datetime", date, `"2023-12-05T23:30:00Z"`, `"2023/12/05"`, ""},
		{"date ISO with offset keeps its day", date, `"2023-12-05T23:30:00-08:00"`, `"2023/12/05"`, ""},
		{"date ISO fractional", date, `"2023-12-05T10:11:12.123456Z"`, `"2023/12/05"`, ""},
		{"date ISO no zone", date, `"2023-12-05T10:11:12"`, `"2023/12/05"`, ""},
		{"date space time", date, `"2023-12-05 10:11:12"`, `"2023/12/05"`, ""},
		{"date written", date, `"Dec 5, 2023"`, `"2023/12/05"`, ""},
		{"date invalid day", date, `"2023-02-30"`, "", `Deadline: "2023-02-30" is not a date; use YYYY/MM/DD, YYYY-MM-DD or an ISO 8601 date-time`},
		{"date ambiguous refused", date, `"05/12/2023"`, "", `Deadline: "05/12/2023" is not a date`},
		{"date number", date, `20231205`, "", "Deadline: expects a string (date), got 20231205"},
		{"dates multiple", dates, `["2023-12-05", "2024/01/01"]`, `["2023/12/05","2024/01/01"]`, ""},
		{"dates bad item", dates, `["2023-12-05", "soon"]`, "", `Milestones: "soon" is not a date; use YYYY/MM/DD, YYYY-MM-DD or an ISO 8601 date-time (item 1)`},

		{"user", user, `"example@rescale.com"`, `"example@rescale.com"`, ""},
		{"user normalised", user, `" Example@Rescale.com "`, `"example@rescale.com"`, ""},
		{"user unknown", user, `"nobody@rescale.com"`, "", `Reviewer: no user has the email "nobody@rescale.com"`},

		{"file readable", file, `"fileA"`, `"fileA"`, ""},
		{"file unknown", file, `"fileB"`, "", `Reference Report: file "fileB" does not exist or you cannot read it`},
		{"file number", file, `7`, "", "Reference Report: expects a string (file), got 7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Normalize(t.Context(), tt.def, json.RawMessage(tt.in), fakeResolver{}, "ualice")
			if tt.err == "" {
				if err != nil {
					t.Fatalf("Normalize(%s) = %v", tt.in, err)
				}
				if string(got) != tt.want {
					t.Fatalf("Normalize(%s) = %s, want %s", tt.in, got, tt.want)
				}
				return
			}
			e, ok := errs.As(err)
			if !ok || e.Code != errs.Invalid {
				t.Fatalf("Normalize(%s) = %s, %v; want invalid", tt.in, got, err)
			}
			if e.Field != "customFields."+tt.def.Name {
				t.Errorf("field %q", e.Field)
			}
			if !strings.Contains(e.Message, tt.err) {
				t.Errorf("message %q does not contain %q", e.Message, tt.err)
			}
		})
	}
}

func TestCheckSections(t *testing.T) {
	ok := func(d Definition) Sections { return Sections{"Context": {d}} }
	tests := []struct {
		name  string
		in    Sections
		field string // "" when valid
		msg   string
	}{
		{"valid", ok(Definition{Name: "Batch", ValueType: TypeText}), "", ""},
		{"open select without options", ok(Definition{Name: "Tag", ValueType: TypeSelect, AllowOther: true}), "", ""},
		{"unknown category", Sections{"Results": {{Name: "x", ValueType: TypeText}}}, "fields.Results", `unknown category "Results"`},
		{"no name", ok(Definition{ValueType: TypeText}), "fields.Context[0].name", "a custom field needs a name"},
		{"spaced name", ok(Definition{Name: " x", ValueType: TypeText}), "fields.Context[0].name", "leading or trailing spaces"},
		{"bad type", ok(Definition{Name: "x", ValueType: "bool"}), "fields.Context[0].valueType", `custom field "x": valueType "bool" is not one of text, number, select, date, file, user`},
		{"options on text", ok(Definition{Name: "x", ValueType: TypeText, EnumOptions: []string{"a"}}), "fields.Context[0].enumOptions", "enumOptions are for select fields only"},
		{"allowOther on date", ok(Definition{Name: "x", ValueType: TypeDate, AllowOther: true}), "fields.Context[0].allowOther", "allowOther is for select fields only"},
		{"closed select without options", ok(Definition{Name: "x", ValueType: TypeSelect}), "fields.Context[0].enumOptions", "needs enumOptions or allowOther"},
		{"duplicate option", ok(Definition{Name: "x", ValueType: TypeSelect, EnumOptions: []string{"a", "a"}}), "fields.Context[0].enumOptions", `option "a" is listed twice`},
		{"duplicate name", Sections{"Context": {{Name: "x", ValueType: TypeText}}, "Inputs": {{Name: "x", ValueType: TypeText}}}, ".name", `custom field "x" is defined twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkSections(tt.in, "fields")
			if tt.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			e, ok := errs.As(err)
			if !ok || e.Code != errs.Invalid || !strings.HasSuffix(e.Field, tt.field) || !strings.Contains(e.Message, tt.msg) {
				t.Fatalf("got %v (field %q), want %s: %s", err, e.Field, tt.field, tt.msg)
			}
		})
	}
}

func TestDefaultWorkspace(t *testing.T) {
	ws, err := DefaultWorkspace()
	if err != nil {
		t.Fatal(err)
	}
	if ws.Organization != "default" || ws.ID != "01-000000001" || !ws.IsEnabled {
		t.Fatalf("workspace %+v", ws)
	}
	types := map[string]bool{}
	required, multiOther := false, false
	for _, c := range Categories {
		for _, d := range ws.Fields.Compute[c] {
			types[d.ValueType] = true
			required = required || d.IsRequired
			multiOther = multiOther || d.ValueType == TypeSelect && d.IsMultiple && d.AllowOther
		}
	}
	if len(types) != len(valueTypes) || !required || !multiOther {
		t.Fatalf("types %v required %v multi+other %v", types, required, multiOther)
	}
	for _, name := range []string{"Deadline", "Development Status", "Study"} {
		if _, ok := ws.Fields.Compute.Find(name); !ok {
			t.Errorf("no %s", name)
		}
	}
}
