// Package dynamostore is the store.Store engine on Amazon DynamoDB: one
// table, keys pk/sk, sparse indexes gsi1 (gsi1pk/gsi1sk) and gsi2
// (gsi2pk/gsi2sk), a version number "ver" for optimistic concurrency and a
// TTL attribute "ttl" in epoch seconds.
//
// Index queries are eventually consistent in AWS (DynamoDB offers nothing
// else on global secondary indexes); primary-key reads and queries are
// strongly consistent. DynamoDB Local applies index updates synchronously,
// so tests do not see the lag.
package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/store"
)

var _ store.Store = (*Store)(nil)

// Attribute names.
const (
	attrPK     = "pk"
	attrSK     = "sk"
	attrGSI1PK = "gsi1pk"
	attrGSI1SK = "gsi1sk"
	attrGSI2PK = "gsi2pk"
	attrGSI2SK = "gsi2sk"
	attrVer    = "ver"
	attrTTL    = "ttl"
	attrData   = "data"
)

// maxAttempts bounds the retries of a write whose condition failed only
// because of expiry or a concurrent transaction (see Put and Transact).
const maxAttempts = 5

// Store is a store.Store on one DynamoDB table.
type Store struct {
	client *dynamodb.Client
	table  string
}

// New returns a store on table, which must have the layout CreateTable
// makes.
func New(client *dynamodb.Client, table string) *Store {
	return &Store{client: client, table: table}
}

// Close does nothing: the client owns no resources the store must release.
func (s *Store) Close() error { return nil }

// CreateTable creates the table with its indexes, waits until it is ACTIVE
// and turns on TTL. An existing table is accepted as is (its TTL is still
// switched on), so a deployment or a dev server may call it on every start.
func CreateTable(ctx context.Context, client *dynamodb.Client, table string) error {
	str := func(name string) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: aws.String(name), AttributeType: types.ScalarAttributeTypeS}
	}
	keys := func(hash, rng string) []types.KeySchemaElement {
		return []types.KeySchemaElement{
			{AttributeName: aws.String(hash), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(rng), KeyType: types.KeyTypeRange},
		}
	}
	gsi := func(name, hash, rng string) types.GlobalSecondaryIndex {
		return types.GlobalSecondaryIndex{
			IndexName:  aws.String(name),
			KeySchema:  keys(hash, rng),
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}
	}
	_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:   aws.String(table),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			str(attrPK), str(attrSK), str(attrGSI1PK), str(attrGSI1SK), str(attrGSI2PK), str(attrGSI2SK),
		},
		KeySchema: keys(attrPK, attrSK),
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{
			gsi(string(store.GSI1), attrGSI1PK, attrGSI1SK),
			gsi(string(store.GSI2), attrGSI2PK, attrGSI2SK),
		},
	})
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("dynamostore create table %s: %w", table, err)
	}
	// The default 20 s first delay is tuned for AWS; a second suits both AWS
	// and Local, where the table is ACTIVE at once.
	waiter := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = time.Second
	})
	if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}, 5*time.Minute); err != nil {
		return fmt.Errorf("dynamostore wait for table %s: %w", table, err)
	}
	desc, err := client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
	if err != nil {
		return fmt.Errorf("dynamostore describe ttl of %s: %w", table, err)
	}
	if d := desc.TimeToLiveDescription; d != nil && aws.ToString(d.AttributeName) == attrTTL &&
		(d.TimeToLiveStatus == types.TimeToLiveStatusEnabled || d.TimeToLiveStatus == types.TimeToLiveStatusEnabling) {
		// Enabling it again is an error in DynamoDB.
		return nil
	}
	_, err = client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(table),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(attrTTL),
			Enabled:       aws.Bool(true),
		},
	})
	if err != nil {
		return fmt.Errorf("dynamostore enable ttl on %s: %w", table, err)
	}
	return nil
}

// expr collects placeholders for one request. DynamoDB rejects names and
// values a request does not use, so only referenced ones are added.
type expr struct {
	names  map[string]string
	values map[string]types.AttributeValue
}

func newExpr() *expr {
	return &expr{names: map[string]string{}, values: map[string]types.AttributeValue{}}
}

// n returns the placeholder of an attribute name; placeholders throughout
// because "data" and "ttl" are DynamoDB reserved words.
func (e *expr) n(attr string) string {
	k := "#" + attr
	e.names[k] = attr
	return k
}

func (e *expr) v(name string, av types.AttributeValue) string {
	k := ":" + name
	e.values[k] = av
	return k
}

// Empty maps are rejected too, hence nil.
func (e *expr) nameMap() map[string]string {
	if len(e.names) == 0 {
		return nil
	}
	return e.names
}

func (e *expr) valueMap() map[string]types.AttributeValue {
	if len(e.values) == 0 {
		return nil
	}
	return e.values
}

func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: str(pk), attrSK: str(sk)}
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

// live is true for an absent item too; combine with existence as needed.
// An item whose TTL has passed is treated as absent everywhere, because
// DynamoDB deletes it only eventually.
func (e *expr) live(now int64) string {
	ttl := e.n(attrTTL)
	return fmt.Sprintf("(attribute_not_exists(%s) OR %s > %s)", ttl, ttl, e.v("now", num(now)))
}

func (e *expr) absentOrExpired(now int64) string {
	ttl := e.n(attrTTL)
	return fmt.Sprintf("(attribute_not_exists(%s) OR %s <= %s)", e.n(attrPK), ttl, e.v("now", num(now)))
}

// condition is the ConditionExpression for cond, "" for none.
func (e *expr) condition(c store.Cond, now int64) string {
	switch {
	case c.IfAbsent:
		return e.absentOrExpired(now)
	case c.IfVersion != 0:
		return fmt.Sprintf("%s = %s AND %s", e.n(attrVer), e.v("cv", num(c.IfVersion)), e.live(now))
	case c.IfExists:
		return fmt.Sprintf("attribute_exists(%s) AND %s", e.n(attrPK), e.live(now))
	}
	return ""
}

// update is an UpdateItem writing a whole item.
type update struct {
	expr, cond string
	e          *expr
}

// putUpdate builds the write of a put. It is an UpdateItem, not a PutItem,
// because only an update expression can compute the next version inside
// DynamoDB: a PutItem would need the old version read first, a race that
// loses updates. SET and REMOVE of every attribute make it a full
// replacement all the same.
//
// The version rule is "old version + 1 if the item is live, else 1". For
// IfVersion, IfAbsent and IfExists the condition pins down which case
// holds. An unconditional put cannot branch inside one request, so it is
// guarded by "not expired" and uses if_not_exists(ver, 0) + 1, which is
// right for absent and live items; over an expired item the guard fails and
// the caller retries with overExpired, which writes version 1 guarded by
// "absent or expired". A retry that fails again means the item changed in
// between, and the caller flips back.
func putUpdate(it store.Item, c store.Cond, now int64, overExpired bool) update {
	e := newExpr()
	var set, remove []string
	strAttrs := []struct{ attr, val string }{
		{attrGSI1PK, it.GSI1PK}, {attrGSI1SK, it.GSI1SK},
		{attrGSI2PK, it.GSI2PK}, {attrGSI2SK, it.GSI2SK},
	}
	for _, a := range strAttrs {
		// Index keys may not be empty strings, and a missing one is what
		// keeps the item out of a sparse index.
		if a.val == "" {
			remove = append(remove, e.n(a.attr))
		} else {
			set = append(set, e.n(a.attr)+" = "+e.v(a.attr, str(a.val)))
		}
	}
	if ttl := store.TTLOf(it.ExpiresAt); ttl != 0 {
		set = append(set, e.n(attrTTL)+" = "+e.v(attrTTL, num(ttl)))
	} else {
		remove = append(remove, e.n(attrTTL))
	}
	if len(it.Data) > 0 {
		// Binary, not string: Data is opaque bytes to the port, and B keeps
		// them exact whatever they hold.
		set = append(set, e.n(attrData)+" = "+e.v(attrData, &types.AttributeValueMemberB{Value: it.Data}))
	} else {
		remove = append(remove, e.n(attrData))
	}
	ver := e.n(attrVer)
	var cond string
	switch {
	case c.IfVersion != 0:
		set = append(set, ver+" = "+e.v("nv", num(c.IfVersion+1)))
		cond = e.condition(c, now)
	case c.IfAbsent:
		set = append(set, ver+" = "+e.v("one", num(1)))
		cond = e.condition(c, now)
	case c.IfExists:
		set = append(set, ver+" = "+ver+" + "+e.v("one", num(1)))
		cond = e.condition(c, now)
	case overExpired:
		set = append(set, ver+" = "+e.v("one", num(1)))
		cond = e.absentOrExpired(now)
	default:
		set = append(set, fmt.Sprintf("%s = if_not_exists(%s, %s) + %s", ver, ver, e.v("zero", num(0)), e.v("one", num(1))))
		cond = e.live(now)
	}
	ex := "SET " + strings.Join(set, ", ")
	if len(remove) > 0 {
		ex += " REMOVE " + strings.Join(remove, ", ")
	}
	return update{expr: ex, cond: cond, e: e}
}

func nowSeconds() int64 { return time.Now().Unix() }

func isConditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

// classify gives SDK errors the code callers act on.
func classify(err error) error {
	var (
		ccf *types.ConditionalCheckFailedException
		pte *types.ProvisionedThroughputExceededException
		rle *types.RequestLimitExceeded
		thr *types.ThrottlingException
		ise *types.InternalServerError
	)
	switch {
	case errors.As(err, &ccf):
		return errs.Wrap(errs.Conflict, err, "condition failed")
	case errors.As(err, &pte), errors.As(err, &rle), errors.As(err, &thr), errors.As(err, &ise):
		// The SDK has already retried these with backoff.
		return errs.Wrap(errs.Unavailable, err, "DynamoDB is throttling or failing")
	}
	return err
}

// decode turns a DynamoDB item into a store item. Data is read from B, or
// from S for items written by hand in the console.
func decode(av map[string]types.AttributeValue) (store.Item, int64, error) {
	var it store.Item
	var ttl int64
	for name, v := range av {
		var err error
		switch name {
		case attrPK, attrSK, attrGSI1PK, attrGSI1SK, attrGSI2PK, attrGSI2SK:
			s, ok := v.(*types.AttributeValueMemberS)
			if !ok {
				return store.Item{}, 0, fmt.Errorf("attribute %s is %T, want S", name, v)
			}
			switch name {
			case attrPK:
				it.PK = s.Value
			case attrSK:
				it.SK = s.Value
			case attrGSI1PK:
				it.GSI1PK = s.Value
			case attrGSI1SK:
				it.GSI1SK = s.Value
			case attrGSI2PK:
				it.GSI2PK = s.Value
			case attrGSI2SK:
				it.GSI2SK = s.Value
			}
		case attrVer:
			it.Version, err = decodeNum(name, v)
		case attrTTL:
			ttl, err = decodeNum(name, v)
		case attrData:
			switch d := v.(type) {
			case *types.AttributeValueMemberB:
				it.Data = d.Value
			case *types.AttributeValueMemberS:
				it.Data = []byte(d.Value)
			default:
				err = fmt.Errorf("attribute %s is %T, want B or S", name, v)
			}
		}
		if err != nil {
			return store.Item{}, 0, err
		}
	}
	if len(it.Data) == 0 {
		it.Data = nil
	}
	it.ExpiresAt = store.ExpiresAtOf(ttl)
	return it, ttl, nil
}

func decodeNum(name string, v types.AttributeValue) (int64, error) {
	n, ok := v.(*types.AttributeValueMemberN)
	if !ok {
		return 0, fmt.Errorf("attribute %s is %T, want N", name, v)
	}
	i, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("attribute %s: %w", name, err)
	}
	return i, nil
}

// Get returns the item or errs.NotFound.
func (s *Store) Get(ctx context.Context, pk, sk string) (store.Item, error) {
	if err := store.ValidateKeys(pk, sk); err != nil {
		return store.Item{}, fmt.Errorf("dynamostore get: %w", err)
	}
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            key(pk, sk),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return store.Item{}, fmt.Errorf("dynamostore get %s/%s: %w", pk, sk, classify(err))
	}
	if out.Item == nil {
		return store.Item{}, fmt.Errorf("dynamostore get %s/%s: %w", pk, sk, errs.E(errs.NotFound, "item not found"))
	}
	it, ttl, err := decode(out.Item)
	if err != nil {
		return store.Item{}, fmt.Errorf("dynamostore get %s/%s: %w", pk, sk, err)
	}
	if store.Expired(ttl, nowSeconds()) {
		return store.Item{}, fmt.Errorf("dynamostore get %s/%s: %w", pk, sk, errs.E(errs.NotFound, "item not found"))
	}
	return it, nil
}

// Put writes the item under cond and returns it with its new version.
func (s *Store) Put(ctx context.Context, it store.Item, cond store.Cond) (store.Item, error) {
	if err := store.FirstErr(store.ValidateItem(it), store.ValidateCond(cond)); err != nil {
		return store.Item{}, fmt.Errorf("dynamostore put: %w", err)
	}
	overExpired := false
	for attempt := 1; ; attempt++ {
		u := putUpdate(it, cond, nowSeconds(), overExpired)
		out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(s.table),
			Key:                       key(it.PK, it.SK),
			UpdateExpression:          aws.String(u.expr),
			ConditionExpression:       optional(u.cond),
			ExpressionAttributeNames:  u.e.nameMap(),
			ExpressionAttributeValues: u.e.valueMap(),
			ReturnValues:              types.ReturnValueUpdatedNew,
		})
		if err != nil && isConditionFailed(err) && store.IsZeroCond(cond) && attempt < maxAttempts {
			// See putUpdate: the item is expired, or was revived meanwhile.
			overExpired = !overExpired
			continue
		}
		if err != nil {
			return store.Item{}, fmt.Errorf("dynamostore put %s/%s: %w", it.PK, it.SK, classify(err))
		}
		ver, err := decodeNum(attrVer, out.Attributes[attrVer])
		if err != nil {
			return store.Item{}, fmt.Errorf("dynamostore put %s/%s: %w", it.PK, it.SK, err)
		}
		// Return what a Get would: TTL precision, no empty Data.
		it.Version = ver
		it.ExpiresAt = store.ExpiresAtOf(store.TTLOf(it.ExpiresAt))
		if len(it.Data) == 0 {
			it.Data = nil
		}
		return it, nil
	}
}

// Delete removes the item under cond.
func (s *Store) Delete(ctx context.Context, pk, sk string, cond store.Cond) error {
	if err := store.FirstErr(store.ValidateKeys(pk, sk), store.ValidateCond(cond)); err != nil {
		return fmt.Errorf("dynamostore delete: %w", err)
	}
	e := newExpr()
	c := e.condition(cond, nowSeconds())
	_, err := s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(pk, sk),
		ConditionExpression:       optional(c),
		ExpressionAttributeNames:  e.nameMap(),
		ExpressionAttributeValues: e.valueMap(),
	})
	if err != nil && isConditionFailed(err) && cond == (store.Cond{IfExists: true}) {
		// The port's one exception: IfExists alone reports the missing item.
		return fmt.Errorf("dynamostore delete %s/%s: %w", pk, sk, errs.Wrap(errs.NotFound, err, "item does not exist"))
	}
	if err != nil {
		return fmt.Errorf("dynamostore delete %s/%s: %w", pk, sk, classify(err))
	}
	return nil
}

func indexAttrs(idx store.Index) (pk, sk string, name *string) {
	switch idx {
	case store.GSI1:
		return attrGSI1PK, attrGSI1SK, aws.String(string(store.GSI1))
	case store.GSI2:
		return attrGSI2PK, attrGSI2SK, aws.String(string(store.GSI2))
	}
	return attrPK, attrSK, nil
}

// Query reads every match to count Total (DynamoDB has no offset, and its
// Limit caps items read before filtering), dropping expired items that TTL
// has not yet deleted, and keeps only the requested page. A NoTotal query
// stops reading once its page is full.
func (s *Store) Query(ctx context.Context, q store.Query) (store.Result, error) {
	if err := store.ValidateQuery(q); err != nil {
		return store.Result{}, fmt.Errorf("dynamostore query: %w", err)
	}
	pkAttr, skAttr, index := indexAttrs(q.Index)
	e := newExpr()
	kc := e.n(pkAttr) + " = " + e.v("pk", str(q.PK))
	if q.SKPrefix != "" {
		kc += fmt.Sprintf(" AND begins_with(%s, %s)", e.n(skAttr), e.v("prefix", str(q.SKPrefix)))
	}
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 index,
		KeyConditionExpression:    aws.String(kc),
		ExpressionAttributeNames:  e.nameMap(),
		ExpressionAttributeValues: e.valueMap(),
		ScanIndexForward:          aws.Bool(!q.Desc),
		// Strong consistency exists only on the base table.
		ConsistentRead: aws.Bool(q.Index == store.Primary),
	}
	if q.NoTotal && q.Limit > 0 {
		// DynamoDB's Limit counts items read, expired ones included, so
		// this is the fewest reads that can fill the page; a page short
		// of it (expired items) reads on.
		in.Limit = aws.Int32(int32(min(q.Offset+q.Limit, 1000)))
	}
	pages := dynamodb.NewQueryPaginator(s.client, in)
	now := nowSeconds()
	var res store.Result
	for pages.HasMorePages() && !(q.NoTotal && q.Limit > 0 && len(res.Items) == q.Limit) {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return store.Result{}, fmt.Errorf("dynamostore query %s %s: %w", q.Index, q.PK, classify(err))
		}
		for _, av := range page.Items {
			it, ttl, err := decode(av)
			if err != nil {
				return store.Result{}, fmt.Errorf("dynamostore query %s %s: %w", q.Index, q.PK, err)
			}
			if store.Expired(ttl, now) {
				continue
			}
			if res.Total >= q.Offset && (q.Limit == 0 || len(res.Items) < q.Limit) {
				res.Items = append(res.Items, it)
			}
			res.Total++
		}
	}
	if q.NoTotal {
		res.Total = -1
	}
	return res, nil
}

// transactItem builds one op of a TransactWriteItems.
func (s *Store) transactItem(op store.Op, now int64, overExpired bool) types.TransactWriteItem {
	k := key(op.Item.PK, op.Item.SK)
	switch op.Kind {
	case store.OpPut:
		u := putUpdate(op.Item, op.Cond, now, overExpired)
		return types.TransactWriteItem{Update: &types.Update{
			TableName:                 aws.String(s.table),
			Key:                       k,
			UpdateExpression:          aws.String(u.expr),
			ConditionExpression:       optional(u.cond),
			ExpressionAttributeNames:  u.e.nameMap(),
			ExpressionAttributeValues: u.e.valueMap(),
		}}
	case store.OpDelete:
		e := newExpr()
		c := e.condition(op.Cond, now)
		return types.TransactWriteItem{Delete: &types.Delete{
			TableName:                 aws.String(s.table),
			Key:                       k,
			ConditionExpression:       optional(c),
			ExpressionAttributeNames:  e.nameMap(),
			ExpressionAttributeValues: e.valueMap(),
		}}
	default: // store.OpCheck; validateOps rejects anything else
		e := newExpr()
		c := e.condition(op.Cond, now)
		return types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
			TableName:                 aws.String(s.table),
			Key:                       k,
			ConditionExpression:       aws.String(c),
			ExpressionAttributeNames:  e.nameMap(),
			ExpressionAttributeValues: e.valueMap(),
		}}
	}
}

// Transact applies all ops in one TransactWriteItems.
//
// Two cancellations are retried rather than reported: an unconditional put
// over an expired item (its guard fails by design; see putUpdate), and
// TransactionConflict, where DynamoDB cancels because another transaction
// was touching an item at that moment and nothing was wrong with ours.
func (s *Store) Transact(ctx context.Context, ops []store.Op) error {
	if err := store.ValidateOps(ops); err != nil {
		return fmt.Errorf("dynamostore transact: %w", err)
	}
	if len(ops) == 0 {
		// DynamoDB rejects an empty transaction; the port allows it.
		return nil
	}
	overExpired := make([]bool, len(ops))
	for attempt := 1; ; attempt++ {
		now := nowSeconds()
		items := make([]types.TransactWriteItem, len(ops))
		for i, op := range ops {
			items[i] = s.transactItem(op, now, overExpired[i])
		}
		_, err := s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if err == nil {
			return nil
		}
		var tce *types.TransactionCanceledException
		if !errors.As(err, &tce) {
			return fmt.Errorf("dynamostore transact: %w", classify(err))
		}
		retry, err := cancelled(ops, tce, overExpired)
		if err != nil {
			return fmt.Errorf("dynamostore transact: %w", err)
		}
		if !retry || attempt >= maxAttempts {
			return fmt.Errorf("dynamostore transact: %w", errs.Wrap(errs.Conflict, tce, "transaction cancelled"))
		}
		// Back off a little so a competing transaction can finish.
		select {
		case <-ctx.Done():
			return fmt.Errorf("dynamostore transact: %w", ctx.Err())
		case <-time.After(time.Duration(attempt*attempt) * 10 * time.Millisecond):
		}
	}
}

// cancelled reads DynamoDB's per-op reasons: an error for a real failure,
// retry for the cases Transact retries (flipping overExpired where needed).
func cancelled(ops []store.Op, tce *types.TransactionCanceledException, overExpired []bool) (bool, error) {
	retry := false
	for i, r := range tce.CancellationReasons {
		if i >= len(ops) {
			break
		}
		op := ops[i]
		switch code := aws.ToString(r.Code); code {
		case "", "None":
		case "ConditionalCheckFailed":
			if op.Kind == store.OpPut && store.IsZeroCond(op.Cond) {
				overExpired[i] = !overExpired[i]
				retry = true
				continue
			}
			return false, fmt.Errorf("op %d (%s/%s): %w", i, op.Item.PK, op.Item.SK,
				errs.Wrap(errs.Conflict, tce, "condition failed"))
		case "TransactionConflict":
			retry = true
		case "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded":
			return false, fmt.Errorf("op %d (%s/%s): %w", i, op.Item.PK, op.Item.SK,
				errs.Wrap(errs.Unavailable, tce, "DynamoDB is throttling"))
		default:
			return false, fmt.Errorf("op %d (%s/%s): cancelled with %s: %w", i, op.Item.PK, op.Item.SK, code, tce)
		}
	}
	return retry, nil
}
