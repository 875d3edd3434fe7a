package e2e

import (
	"strings"
	"testing"
)

// A client picks software and hardware by the real service's codes: the
// catalog is large enough, a job's version may be the version, the
// versionCode or "latest", and a mistyped code is answered with the
// nearest one.
func TestCatalogForClients(t *testing.T) {
	s := start(t, t.TempDir(), []string{"RESCALE_LOCAL_API_KEY=" + testKey})
	for path, least := range map[string]float64{"/api/v2/analyses/": 40, "/api/v2/coretypes/": 30} {
		r := do(t, "GET", s.URL+path+"?page_size=1000", testKey, nil)
		if r.Status != 200 || r.JSON(t)["count"].(float64) < least {
			t.Errorf("%s: %d, count %v, want at least %v", path, r.Status, r.JSON(t)["count"], least)
		}
	}
	r := do(t, "GET", s.URL+"/api/v2/analyses/?search=openfoam_plus", testKey, nil)
	if r.Status != 200 || at(t, r.JSON(t), "results", 0, "category") != "CFD" {
		t.Errorf("openfoam_plus: %d %s", r.Status, r.Body)
	}

	job := func(code, version string) string {
		return `{"name": "v", "jobanalyses": [{"analysis": {"code": "` + code + `", "version": "` + version + `"},
			"command": "true", "hardware": {"coreType": "standard-plus", "coresPerSlot": 1}}]}`
	}
	for _, tt := range []struct{ code, version, want string }{
		{"openfoam", "latest", "v1912-openmpi"},
		{"openfoam", "v1912", "v1912-openmpi"},
		{"openfoam", "2.3.0", "2.3.0-openmpi"},
		{"openfoam", "2.3.0-openmpi", "2.3.0-openmpi"},
		{"user_included", "latest", "0"},
	} {
		r := do(t, "POST", s.URL+"/api/v2/jobs/", testKey, strings.NewReader(job(tt.code, tt.version)))
		if r.Status != 201 {
			t.Errorf("%s %s: %d %s", tt.code, tt.version, r.Status, r.Body)
			continue
		}
		if got := at(t, r.JSON(t), "jobanalyses", 0, "analysis", "version"); got != tt.want {
			t.Errorf("%s %s: saved as version %v, want %s", tt.code, tt.version, got, tt.want)
		}
	}
	r = do(t, "POST", s.URL+"/api/v2/jobs/", testKey, strings.NewReader(job("openfoam_pls", "")))
	if r.Status != 400 || !strings.Contains(r.JSON(t)["detail"].(string), `unknown analysis code "openfoam_pls"; did you mean openfoam_plus?`) {
		t.Errorf("mistyped code: %d %s", r.Status, r.Body)
	}
}
