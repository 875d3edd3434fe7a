package files

import (
	"context"
	"fmt"
	"time"

	"github.com/openrescale/platform/shared/blob"
	"github.com/openrescale/platform/shared/errs"
)

// DownloadURL returns a presigned URL reading f's bytes straight from
// storage, valid for ttl, so that GET /api/v2/files/{id}/contents/ can
// answer 302 instead of streaming through Lambda (6 MB response cap). It
// returns "" when ttl is 0 (the deployment did not ask for redirects) or
// the bucket cannot sign (local storage), and the handler streams instead.
func (s *Service) DownloadURL(ctx context.Context, f File, ttl time.Duration) (string, error) {
	if ttl <= 0 {
		return "", nil
	}
	signer, ok := s.Bucket.(blob.Signer)
	if !ok {
		return "", nil
	}
	if !f.IsUploaded {
		return "", errs.E(errs.Conflict, "file %s has not finished uploading", f.ID)
	}
	u, err := signer.PresignGet(ctx, f.Key, f.Name, ttl)
	if err != nil {
		return "", fmt.Errorf("presign download of file %s: %w", f.ID, err)
	}
	return u, nil
}
