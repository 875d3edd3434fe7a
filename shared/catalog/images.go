package catalog

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// DefaultImage is the container image of runs whose software has no image
// of its own (user_included, custom): a plain Ubuntu LTS from Amazon ECR
// Public's copy of the Docker official images, so pulls are not subject to
// Docker Hub's anonymous rate limits. The job agent is added on top of it
// (infra/agentimage), as it is to every software image.
const DefaultImage = "public.ecr.aws/docker/library/ubuntu:24.04"

// SoftwareImage is one entry of data/images.json: the container image that
// runs of an analysis version use in AWS. It is not part of any API
// response.
type SoftwareImage struct {
	Analysis string `json:"analysis"`
	// Version is a versionCode of the analysis, or "*" for all its
	// versions without an entry of their own.
	Version string `json:"version"`
	// Image is a reference docker pull accepts (registry/repo:tag or
	// @digest).
	Image string `json:"image"`
	// MultiNode: MPI runs of this software may span instances, so a
	// multi-node parallel job definition is made too.
	MultiNode bool `json:"multiNode,omitempty"`
}

// imageRef is a loose check of an image reference: it catches blanks,
// spaces and URLs pasted with a scheme, not every malformed name. Compiled
// on first use, not in every Lambda function's cold start.
var imageRef = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9][a-z0-9._/:@-]*[a-zA-Z0-9_.-]$`) })

// Images loads data/images.json and checks it against c: every entry must
// name an analysis and version of the catalog, once.
func Images(c *Catalog) ([]SoftwareImage, error) {
	var imgs []SoftwareImage
	if err := decodeStrict("data/images.json", &imgs); err != nil {
		return nil, err
	}
	if err := ValidateImages(c, imgs); err != nil {
		return nil, err
	}
	return imgs, nil
}

// ValidateImages checks entries (from data/images.json or a deployment's
// own list) against c.
func ValidateImages(c *Catalog, imgs []SoftwareImage) error {
	seen := map[string]bool{}
	for i, im := range imgs {
		a, ok := c.Analysis(im.Analysis)
		if !ok {
			return fmt.Errorf("catalog: image #%d: unknown analysis %q", i, im.Analysis)
		}
		if im.Version != "*" {
			if _, ok := a.Version(im.Version); !ok {
				return fmt.Errorf("catalog: image #%d: analysis %q has no version %q", i, im.Analysis, im.Version)
			}
		}
		if !imageRef().MatchString(im.Image) || strings.Contains(im.Image, "://") {
			return fmt.Errorf("catalog: image #%d (%s %s): %q is not an image reference", i, im.Analysis, im.Version, im.Image)
		}
		key := im.Analysis + "/" + im.Version
		if seen[key] {
			return fmt.Errorf("catalog: image #%d: %s %s listed twice", i, im.Analysis, im.Version)
		}
		seen[key] = true
	}
	return nil
}
