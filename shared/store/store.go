// Package store is the storage port: a single-table item store shaped after
// DynamoDB's data model (partition key, sort key, two global secondary
// indexes, a version for optimistic concurrency, an expiry time), so the
// embedded engine and DynamoDB can honour the same contract.
//
// Records live as opaque JSON in Data; repositories in domain packages decide
// the keys. Every user-owned record's key starts with its owner, so a query
// can never cross tenants.
//
// Errors: every method returns errs.NotFound for a missing item and
// errs.Conflict when a condition (IfAbsent, IfVersion, IfExists) fails,
// whatever the engine.
package store

import (
	"context"
	"encoding/json"
	"time"
)

// Index names a way to query items.
type Index string

const (
	Primary Index = ""     // PK + SK
	GSI1    Index = "gsi1" // GSI1PK + GSI1SK
	GSI2    Index = "gsi2" // GSI2PK + GSI2SK
)

// Item is one stored record.
type Item struct {
	PK string
	SK string
	// Secondary index keys; an empty PK keeps the item out of that index.
	GSI1PK, GSI1SK string
	GSI2PK, GSI2SK string
	// Version is set by the store: 1 on first write, +1 on each update.
	// A value given to Put is ignored; use IfVersion to guard an update.
	Version int64
	// ExpiresAt, when non-zero, makes the item invisible after that time
	// (DynamoDB TTL; deletion there is lazy, so reads filter too).
	ExpiresAt time.Time
	Data      json.RawMessage
}

// Cond guards a write.
type Cond struct {
	// IfAbsent: the write fails with Conflict if the item exists.
	IfAbsent bool
	// IfExists: the write fails with Conflict (NotFound for Delete without
	// other conditions) if the item does not exist.
	IfExists bool
	// IfVersion, when non-zero: the write fails with Conflict unless the
	// stored item has exactly this version.
	IfVersion int64
}

// Query selects items by partition key and optional sort-key prefix in one
// index, in sort-key order.
type Query struct {
	Index    Index
	PK       string
	SKPrefix string
	// Desc returns items in descending sort-key order.
	Desc bool
	// Offset skips that many matching items; Limit caps the result (0: no cap).
	Offset int
	Limit  int
	// NoTotal skips counting the matches: the engine reads only up to the
	// page's end (Offset+Limit matches) and Result.Total is -1. A page
	// then costs what it skips and returns, not the partition's size;
	// callers keep counts in counter items (Counter).
	NoTotal bool
}

// Result is a page of a query and the total number of matches (-1 for a
// NoTotal query).
type Result struct {
	Items []Item
	Total int
}

// OpKind is the kind of a transactional operation.
type OpKind int

const (
	OpPut OpKind = iota + 1
	OpDelete
	// OpCheck only evaluates Cond against (Item.PK, Item.SK).
	OpCheck
)

// Op is one write in a transaction.
type Op struct {
	Kind OpKind
	Item Item // for OpDelete and OpCheck only PK and SK are used
	Cond Cond
}

// Store is the port. Implementations: boltstore (embedded), dynamostore.
type Store interface {
	// Get returns the item or errs.NotFound.
	Get(ctx context.Context, pk, sk string) (Item, error)
	// Put writes an item under cond and returns it with its new Version.
	Put(ctx context.Context, it Item, cond Cond) (Item, error)
	// Delete removes an item under cond. Deleting a missing item without
	// conditions is not an error.
	Delete(ctx context.Context, pk, sk string, cond Cond) error
	// Query lists items; see Query.
	Query(ctx context.Context, q Query) (Result, error)
	// Transact applies all ops or none (at most 100). A failed condition
	// returns errs.Conflict.
	Transact(ctx context.Context, ops []Op) error
	// Close releases the engine.
	Close() error
}

// MaxTransactOps is DynamoDB's TransactWriteItems limit, enforced by every
// engine so code that works locally works in AWS.
const MaxTransactOps = 100

// MaxItemBytes approximates DynamoDB's 400 KB item limit, enforced by every
// engine for the same reason.
const MaxItemBytes = 350 * 1024
