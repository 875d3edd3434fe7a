package catalog

import "testing"

func TestImagesLoad(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Images(c); err != nil {
		t.Fatal(err)
	}
	if !imageRef().MatchString(DefaultImage) {
		t.Fatalf("DefaultImage %q fails the image check", DefaultImage)
	}
}

func TestValidateImages(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	ok := SoftwareImage{Analysis: "openfoam", Version: "*", Image: "example.com/team/openfoam:v1912"}
	cases := []struct {
		name string
		imgs []SoftwareImage
		bad  bool
	}{
		{name: "any version", imgs: []SoftwareImage{ok}},
		{name: "one version", imgs: []SoftwareImage{{Analysis: "openfoam", Version: "v1912-openmpi", Image: "openfoam:1"}}},
		{name: "unknown analysis", imgs: []SoftwareImage{{Analysis: "nope", Version: "*", Image: "x:1"}}, bad: true},
		{name: "unknown version", imgs: []SoftwareImage{{Analysis: "openfoam", Version: "99", Image: "x:1"}}, bad: true},
		{name: "twice", imgs: []SoftwareImage{ok, ok}, bad: true},
		{name: "url", imgs: []SoftwareImage{{Analysis: "openfoam", Version: "*", Image: "https://x/y"}}, bad: true},
		{name: "blank", imgs: []SoftwareImage{{Analysis: "openfoam", Version: "*"}}, bad: true},
	}
	for _, tc := range cases {
		err := ValidateImages(c, tc.imgs)
		if (err != nil) != tc.bad {
			t.Errorf("%s: err %v, want error %v", tc.name, err, tc.bad)
		}
	}
}
