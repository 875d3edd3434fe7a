package store

// Input rules shared by every engine: both must reject exactly the same
// input, so code that works locally works in AWS. The contract suite checks.

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/openrescale/platform/shared/errs"
)

// DynamoDB's key limits, enforced here too so data that fits locally fits
// in AWS.
const (
	maxPKBytes = 2048
	maxSKBytes = 1024
)

func validateKey(field, v string, limit int) error {
	switch {
	case v == "":
		return errs.Field(field, "%s is required", field)
	case len(v) > limit:
		return errs.Field(field, "%s is longer than %d bytes", field, limit)
	case strings.IndexByte(v, 0) >= 0:
		// NUL separates key parts in the embedded engine's byte keys.
		return errs.Field(field, "%s contains a NUL byte", field)
	case !utf8.ValidString(v):
		// DynamoDB strings are UTF-8; the SDK would silently mangle others.
		return errs.Field(field, "%s is not valid UTF-8", field)
	}
	return nil
}

func ValidateKeys(pk, sk string) error {
	if err := validateKey("pk", pk, maxPKBytes); err != nil {
		return err
	}
	return validateKey("sk", sk, maxSKBytes)
}

func ValidateItem(it Item) error {
	if err := ValidateKeys(it.PK, it.SK); err != nil {
		return err
	}
	idx := []struct{ name, pk, sk string }{
		{"gsi1", it.GSI1PK, it.GSI1SK},
		{"gsi2", it.GSI2PK, it.GSI2SK},
	}
	for _, x := range idx {
		if x.pk == "" && x.sk == "" {
			continue
		}
		// DynamoDB leaves an item out of an index when either index key is
		// missing; requiring both keeps "in the index" meaning the same on
		// both engines.
		if err := validateKey(x.name+"pk", x.pk, maxPKBytes); err != nil {
			return err
		}
		if err := validateKey(x.name+"sk", x.sk, maxSKBytes); err != nil {
			return err
		}
	}
	if n := itemSize(it); n > MaxItemBytes {
		return errs.Field("data", "item is %d bytes, more than the limit of %d", n, MaxItemBytes)
	}
	return nil
}

// itemSize approximates DynamoDB's accounting; MaxItemBytes leaves room for
// attribute names and numbers.
func itemSize(it Item) int {
	return len(it.PK) + len(it.SK) + len(it.GSI1PK) + len(it.GSI1SK) + len(it.GSI2PK) + len(it.GSI2SK) + len(it.Data)
}

func ValidateCond(c Cond) error {
	switch {
	case c.IfVersion < 0:
		return errs.Field("cond", "IfVersion must not be negative")
	case c.IfAbsent && (c.IfExists || c.IfVersion != 0):
		return errs.Field("cond", "IfAbsent cannot be combined with IfExists or IfVersion")
	}
	return nil
}

func IsZeroCond(c Cond) bool { return c == Cond{} }

func ValidateQuery(q Query) error {
	switch q.Index {
	case Primary, GSI1, GSI2:
	default:
		return errs.Field("index", "unknown index %q", q.Index)
	}
	if err := validateKey("pk", q.PK, maxPKBytes); err != nil {
		return err
	}
	if q.Offset < 0 || q.Limit < 0 {
		return errs.Field("offset", "offset and limit must not be negative")
	}
	return nil
}

type itemKey struct{ pk, sk string }

// ValidateOps checks a transaction before anything is written, so a bad op
// is Invalid rather than a partial failure.
func ValidateOps(ops []Op) error {
	if len(ops) > MaxTransactOps {
		return errs.Field("ops", "a transaction holds at most %d ops, got %d", MaxTransactOps, len(ops))
	}
	seen := make(map[itemKey]bool, len(ops))
	for i, op := range ops {
		var err error
		switch op.Kind {
		case OpPut:
			err = ValidateItem(op.Item)
		case OpDelete:
			err = ValidateKeys(op.Item.PK, op.Item.SK)
		case OpCheck:
			err = ValidateKeys(op.Item.PK, op.Item.SK)
			if err == nil && IsZeroCond(op.Cond) {
				err = errs.Field("cond", "a check needs a condition")
			}
		default:
			err = errs.Field("kind", "unknown op kind %d", op.Kind)
		}
		if err == nil {
			err = ValidateCond(op.Cond)
		}
		if err != nil {
			return fmt.Errorf("op %d: %w", i, err)
		}
		k := itemKey{op.Item.PK, op.Item.SK}
		if seen[k] {
			// DynamoDB refuses this; refusing it everywhere keeps the
			// outcome independent of op order.
			return errs.Field("ops", "op %d touches %s/%s again", i, k.pk, k.sk)
		}
		seen[k] = true
	}
	return nil
}

// TTLOf turns an expiry into DynamoDB's TTL: epoch seconds, 0 for none.
// Rounding up keeps an item visible until its expiry, never before; an
// expiry before 1970 becomes 1 so it still reads as set and Expired.
func TTLOf(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return max(s, 1)
}

// ExpiresAtOf is the inverse of TTLOf, at its precision.
func ExpiresAtOf(ttl int64) time.Time {
	if ttl == 0 {
		return time.Time{}
	}
	return time.Unix(ttl, 0)
}

// Expired reports whether an item with this TTL is gone at now (epoch
// seconds): visible while now < ttl.
func Expired(ttl, now int64) bool { return ttl != 0 && ttl <= now }

func FirstErr(list ...error) error {
	for _, err := range list {
		if err != nil {
			return err
		}
	}
	return nil
}
