package storagecreds

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/files"
)

// DefaultDuration is one hour: the upload role's default maximum session,
// long enough for a large upload with the SDK's multipart manager.
const DefaultDuration = time.Hour

// CheckAccess validates an Access as CheckPaths does paths; it must name
// at least one path.
func CheckAccess(userID string, a Access) error {
	all := append(append([]string(nil), a.Read...), a.Write...)
	if len(all) == 0 {
		return errs.Field("paths", "no paths to issue credentials for")
	}
	return CheckPaths(userID, all)
}

// maxPolicy is STS's limit on a packed session policy.
const maxPolicy = 2048

type statement struct {
	Effect    string         `json:"Effect"`
	Action    []string       `json:"Action"`
	Resource  []string       `json:"Resource"`
	Condition map[string]any `json:"Condition,omitempty"`
}

// SessionPolicy is the IAM policy limiting the credentials to the user's
// prefix, or to paths within it: objects may be written (including by
// multipart upload, which s3:PutObject covers), read and their unfinished
// uploads aborted; listing is allowed only under the same keys.
func SessionPolicy(bucket, userID string, paths []string) (string, error) {
	if len(paths) == 0 {
		// The directory itself is listed too (s3:prefix "user/user_x/").
		return accessPolicy(bucket, Access{Write: []string{files.UserPrefix(userID)}}, true)
	}
	return accessPolicy(bucket, Access{Write: paths}, false)
}

// AccessPolicy is the session policy of an Access: reading (GetObject)
// and listing under every path, writing (PutObject, multipart uploads)
// only under a.Write.
func AccessPolicy(bucket string, a Access) (string, error) {
	return accessPolicy(bucket, a, false)
}

func accessPolicy(bucket string, a Access, listDirs bool) (string, error) {
	resources := func(paths []string) (objects, listPrefixes []string) {
		for _, p := range paths {
			res, lp := "arn:aws:s3:::"+bucket+"/"+p, p
			if p[len(p)-1] == '/' {
				res += "*"
				if listDirs {
					listPrefixes = append(listPrefixes, p)
				}
				lp += "*"
			}
			objects = append(objects, res)
			listPrefixes = append(listPrefixes, lp)
		}
		return objects, listPrefixes
	}
	readObjects, readList := resources(a.Read)
	writeObjects, writeList := resources(a.Write)
	var st []statement
	if len(writeObjects) > 0 {
		st = append(st, statement{Effect: "Allow", Action: []string{"s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"}, Resource: writeObjects})
	}
	if len(readObjects) > 0 {
		st = append(st, statement{Effect: "Allow", Action: []string{"s3:GetObject"}, Resource: readObjects})
	}
	st = append(st, statement{Effect: "Allow", Action: []string{"s3:ListBucket"}, Resource: []string{"arn:aws:s3:::" + bucket},
		Condition: map[string]any{"StringLike": map[string]any{"s3:prefix": append(writeList, readList...)}}})
	doc := struct {
		Version   string      `json:"Version"`
		Statement []statement `json:"Statement"`
	}{Version: "2012-10-17", Statement: st}
	b, err := json.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("encode session policy: %w", err)
	}
	if len(b) > maxPolicy {
		return "", errs.Field("paths", "too many or too long paths: ask for fewer, or for their common directory")
	}
	return string(b), nil
}
