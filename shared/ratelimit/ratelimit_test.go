package ratelimit

import (
	"testing"
	"time"
)

func TestPerKeyBuckets(t *testing.T) {
	now := time.Unix(1000, 0)
	clock := func() time.Time { return now }
	l := New(2, 3, clock)
	for i := 0; i < 3; i++ {
		if ok, _ := l.Allow("a"); !ok {
			t.Fatalf("request %d within burst refused", i)
		}
	}
	ok, wait := l.Allow("a")
	if ok || wait <= 0 || wait > time.Second {
		t.Fatalf("over burst: ok=%v wait=%v", ok, wait)
	}
	if ok, _ := l.Allow("b"); !ok {
		t.Fatal("another key was starved by a")
	}
	now = now.Add(500 * time.Millisecond)
	if ok, _ := l.Allow("a"); !ok {
		t.Fatal("token not refilled after 0.5 s at 2/s")
	}
}

func TestDisabled(t *testing.T) {
	l := New(0, 0, time.Now)
	for i := 0; i < 1000; i++ {
		if ok, _ := l.Allow("a"); !ok {
			t.Fatal("disabled limiter refused")
		}
	}
}
