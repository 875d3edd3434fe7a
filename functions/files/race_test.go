package files_test

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
)

// Concurrent changes to one file never overwrite each other (docs/
// api-decisions.md): tag adds, a tag remove and a PATCH racing on one
// record all land. Without the version condition on file updates, most of
// the tags vanish.
//
// Eight writers, because each of a writer's failed attempts means another
// writer's success, so none can fail more than seven times and the retry
// bound (nine attempts) always suffices; more writers than attempts is the
// "sustained contention" that may answer 409.
func TestConcurrentFileChangesAllApply(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		id := e.upload(t, aliceToken, "race.txt", "x")["id"].(string)
		url := "/api/v2/files/" + id + "/"
		const adds = 6
		// A tag that exists before the race, removed during it.
		if r := e.do(t, "POST", url+"tags/", aliceToken, strings.NewReader(`{"name":"old"}`), "Content-Type", "application/json"); r.Code != 201 {
			t.Fatalf("seed tag: %d %s", r.Code, r.Body)
		}
		var wg sync.WaitGroup
		errc := make(chan string, adds+2)
		send := func(method, target, body string, want int) {
			defer wg.Done()
			r := e.do(t, method, target, aliceToken, strings.NewReader(body), "Content-Type", "application/json")
			if r.Code != want {
				errc <- fmt.Sprintf("%s %s %s: %d %s", method, target, body, r.Code, r.Body)
			}
		}
		for i := range adds {
			wg.Add(1)
			go send("POST", url+"tags/", fmt.Sprintf(`{"name":"tag%02d"}`, i), http.StatusCreated)
		}
		wg.Add(2)
		go send("DELETE", url+"tags/", `{"name":"old"}`, http.StatusNoContent)
		go send("PATCH", url, `{"name":"renamed.txt","typeId":3}`, http.StatusOK)
		wg.Wait()
		close(errc)
		for msg := range errc {
			t.Error(msg)
		}
		got := e.do(t, "GET", url, aliceToken, nil).JSON(t)
		var names []string
		for _, tag := range got["userTags"].([]any) {
			names = append(names, tag.(map[string]any)["name"].(string))
		}
		sort.Strings(names)
		var want []string
		for i := range adds {
			want = append(want, fmt.Sprintf("tag%02d", i))
		}
		if strings.Join(names, ",") != strings.Join(want, ",") {
			t.Errorf("tags after the race: %v, want %v", names, want)
		}
		if got["name"] != "renamed.txt" || got["typeId"] != 3.0 {
			t.Errorf("PATCH lost: name %v typeId %v", got["name"], got["typeId"])
		}
	})
}
