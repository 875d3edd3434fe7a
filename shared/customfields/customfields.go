// Package customfields keeps custom fields: the workspace's field
// definitions (embedded JSON until organisations and workspaces can be
// administered), fields assigned to a single job, and the values set on a
// job, each checked against its field's type.
package customfields

import (
	"embed"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/openrescale/platform/shared/errs"
)

//go:embed data/workspace.json
var data embed.FS

// Value types, as the spec's valueType enum names them.
const (
	TypeText   = "text"
	TypeNumber = "number"
	TypeSelect = "select"
	TypeDate   = "date"
	TypeFile   = "file"
	TypeUser   = "user"
)

var valueTypes = []string{TypeText, TypeNumber, TypeSelect, TypeDate, TypeFile, TypeUser}

// Categories are the sections a field is shown in.
var Categories = []string{"Context", "Inputs", "Findings"}

// Limits keep a job's custom-field record far below the store's item size.
const (
	MaxJobFields    = 100
	MaxNameBytes    = 200
	MaxOptions      = 200
	MaxTextBytes    = 4096
	MaxMultipleItem = 100
)

// Definition is a field's definition, the spec's field object in its order.
type Definition struct {
	Name        string   `json:"name"`
	ValueType   string   `json:"valueType"`
	EnumOptions []string `json:"enumOptions"`
	Placeholder string   `json:"placeholder"`
	HelpText    string   `json:"helpText"`
	IsMultiple  bool     `json:"isMultiple"`
	IsRequired  bool     `json:"isRequired"`
	AllowOther  bool     `json:"allowOther"`
}

// Equal compares definitions, treating a nil and an empty option list alike.
func (d Definition) Equal(o Definition) bool {
	return d.Name == o.Name && d.ValueType == o.ValueType && slices.Equal(d.EnumOptions, o.EnumOptions) &&
		d.Placeholder == o.Placeholder && d.HelpText == o.HelpText && d.IsMultiple == o.IsMultiple &&
		d.IsRequired == o.IsRequired && d.AllowOther == o.AllowOther
}

// Sections are definitions by category. Encoded as a JSON object, the
// categories come in key order (Context, Findings, Inputs), as in the spec.
type Sections map[string][]Definition

// Find returns the definition named name.
func (s Sections) Find(name string) (Definition, bool) {
	for _, c := range Categories {
		for _, d := range s[c] {
			if d.Name == name {
				return d, true
			}
		}
	}
	return Definition{}, false
}

// count is the number of definitions in all categories.
func (s Sections) count() int {
	n := 0
	for _, c := range Categories {
		n += len(s[c])
	}
	return n
}

// merge returns s with o's definitions appended per category; a name in
// both keeps o's definition in s's place.
func (s Sections) merge(o Sections) Sections {
	out := Sections{}
	for _, c := range Categories {
		for _, d := range s[c] {
			if od, ok := o.Find(d.Name); ok {
				d = od
			}
			out[c] = append(out[c], d)
		}
	}
	for _, c := range Categories {
		for _, d := range o[c] {
			if _, ok := s.Find(d.Name); !ok {
				out[c] = append(out[c], d)
			}
		}
	}
	return out
}

// Workspace is an organisation's workspace and its field definitions.
type Workspace struct {
	Organization string `json:"organization"`
	ID           string `json:"workspace"`
	IsEnabled    bool   `json:"isEnabled"`
	Fields       struct {
		Compute     Sections `json:"compute"`
		Workstation Sections `json:"workstation"`
	} `json:"fields"`
}

// DefaultWorkspace is the one workspace every deployment has until
// workspaces can be administered: organisation "default", workspace
// "01-000000001" (the spec's NN-NNNNNNNNN style).
func DefaultWorkspace() (Workspace, error) {
	b, err := data.ReadFile("data/workspace.json")
	if err != nil {
		return Workspace{}, fmt.Errorf("read workspace definitions: %w", err)
	}
	var ws Workspace
	if err := json.Unmarshal(b, &ws); err != nil {
		return Workspace{}, fmt.Errorf("decode workspace definitions: %w", err)
	}
	for _, s := range []Sections{ws.Fields.Compute, ws.Fields.Workstation} {
		if err := checkSections(s, "fields"); err != nil {
			return Workspace{}, fmt.Errorf("workspace definitions: %w", err)
		}
	}
	return ws, nil
}

// checkSections validates definitions as a client sends them for a job
// (and as the embedded workspace must be): known categories and types,
// options only where they mean something, names unique.
func checkSections(s Sections, path string) error {
	seen := map[string]bool{}
	for c, defs := range s {
		if !slices.Contains(Categories, c) {
			return errs.Field(path+"."+c, "%s: unknown category %q; use Context, Inputs or Findings", path, c)
		}
		for i, d := range defs {
			p := fmt.Sprintf("%s.%s[%d]", path, c, i)
			if err := checkDefinition(d, p); err != nil {
				return err
			}
			if seen[d.Name] {
				return errs.Field(p+".name", "custom field %q is defined twice", d.Name)
			}
			seen[d.Name] = true
		}
	}
	return nil
}

func checkDefinition(d Definition, path string) error {
	switch {
	case strings.TrimSpace(d.Name) == "":
		return errs.Field(path+".name", "%s.name: a custom field needs a name", path)
	case d.Name != strings.TrimSpace(d.Name):
		return errs.Field(path+".name", "custom field %q: the name has leading or trailing spaces", d.Name)
	case len(d.Name) > MaxNameBytes:
		return errs.Field(path+".name", "custom field %q: the name is longer than %d bytes", d.Name, MaxNameBytes)
	case !slices.Contains(valueTypes, d.ValueType):
		return errs.Field(path+".valueType", "custom field %q: valueType %q is not one of %s", d.Name, d.ValueType, strings.Join(valueTypes, ", "))
	case d.ValueType != TypeSelect && len(d.EnumOptions) > 0:
		return errs.Field(path+".enumOptions", "custom field %q: enumOptions are for select fields only", d.Name)
	case d.ValueType != TypeSelect && d.AllowOther:
		return errs.Field(path+".allowOther", "custom field %q: allowOther is for select fields only", d.Name)
	case d.ValueType == TypeSelect && len(d.EnumOptions) == 0 && !d.AllowOther:
		return errs.Field(path+".enumOptions", "custom field %q: a select field needs enumOptions or allowOther", d.Name)
	case len(d.EnumOptions) > MaxOptions:
		return errs.Field(path+".enumOptions", "custom field %q: at most %d enumOptions", d.Name, MaxOptions)
	}
	for i, o := range d.EnumOptions {
		if strings.TrimSpace(o) == "" || len(o) > MaxTextBytes {
			return errs.Field(path+".enumOptions", "custom field %q: option %d is blank or too long", d.Name, i)
		}
		if slices.Index(d.EnumOptions, o) != i {
			return errs.Field(path+".enumOptions", "custom field %q: option %q is listed twice", d.Name, o)
		}
	}
	return nil
}

// normalizeSections gives every category a non-nil list, as the spec's
// samples render [] rather than null.
func normalizeSections(s Sections) Sections {
	out := Sections{}
	for c, defs := range s {
		for i := range defs {
			if defs[i].EnumOptions == nil {
				defs[i].EnumOptions = []string{}
			}
		}
		if len(defs) > 0 {
			out[c] = defs
		}
	}
	return out
}
