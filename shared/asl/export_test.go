package asl

// SetPersistHook lets tests see each write's events as it commits, to act
// at a precise point of an execution (kill a runner mid-Map) without
// polling.
func SetPersistHook(r *Runner, fn func([]Event)) { r.persisted = fn }
