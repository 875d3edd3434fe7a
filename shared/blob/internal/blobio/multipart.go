package blobio

import (
	"strings"

	"github.com/openrescale/platform/shared/blob"
	"github.com/openrescale/platform/shared/errs"
)

// CheckCompletion applies S3's rules for completing a multipart upload to
// the requested parts (want) and those received (have), and returns the
// received parts to assemble, in order. Both adapters check here, before
// touching storage, because S3-protocol servers differ in what they enforce
// (gofakes3 accepts undersized parts that S3 rejects with EntityTooSmall).
func CheckCompletion(want, have []blob.Part) ([]blob.Part, error) {
	if len(want) == 0 {
		return nil, errs.Field("parts", "at least one part is needed")
	}
	byNum := make(map[int]blob.Part, len(have))
	for _, p := range have {
		byNum[p.Number] = p
	}
	out := make([]blob.Part, 0, len(want))
	for i, w := range want {
		if i > 0 && w.Number <= want[i-1].Number {
			return nil, errs.Field("parts", "part numbers must be in ascending order")
		}
		p, ok := byNum[w.Number]
		if !ok || strings.Trim(w.ETag, `"`) != strings.Trim(p.ETag, `"`) {
			return nil, errs.Field("parts", "part %d was not received with ETag %s", w.Number, w.ETag)
		}
		out = append(out, p)
	}
	for _, p := range out[:len(out)-1] {
		if p.Size < blob.MinPartSize {
			return nil, errs.Field("parts", "part %d is %d bytes; every part but the last must be at least %d", p.Number, p.Size, blob.MinPartSize)
		}
	}
	return out, nil
}
