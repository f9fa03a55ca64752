package store_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/relaydesk/relaydesk/internal/store"
)

func TestPageQuery(t *testing.T) {
	last := store.NewID()
	q, err := store.NewPageQuery("x", "t.id", store.Cursor("x", last), 500, 100)
	if err != nil {
		t.Fatal(err)
	}
	q.And("t.ws = ?", "w1")
	q.Between("t.at", time.UnixMicro(5), time.Time{})
	tail, args := q.Tail()
	if want := "WHERE t.id < ? AND t.ws = ? AND t.at >= ? ORDER BY t.id DESC LIMIT ?"; tail != want {
		t.Fatalf("Tail = %q, want %q", tail, want)
	}
	if got := fmt.Sprint(args); got != fmt.Sprint([]any{last, "w1", int64(5), 101}) {
		t.Fatalf("args = %v: want the cursor's id, the conditions' arguments and max+1", got)
	}

	rows := make([]string, 101)
	for i := range rows {
		rows[i] = fmt.Sprint(i)
	}
	page, next := store.Page(q, rows, func(s string) string { return s })
	if len(page) != 100 || next != store.Cursor("x", "99") {
		t.Fatalf("Page of 101 rows = %d rows, next %q; want 100 and the cursor of the 100th", len(page), next)
	}
	if page, next = store.Page(q, rows[:100], func(s string) string { return s }); len(page) != 100 || next != "" {
		t.Fatalf("last page = %d rows, next %q; want all, no next", len(page), next)
	}

	first, _ := store.NewPageQuery("x", "id", "", 0, 100)
	if tail, args := first.Tail(); tail != "ORDER BY id DESC LIMIT ?" || fmt.Sprint(args) != fmt.Sprint([]any{store.DefaultPage + 1}) {
		t.Fatalf("first page = %q %v", tail, args)
	}
	if _, err := store.NewPageQuery("y", "id", store.Cursor("x", last), 10, 100); !errors.Is(err, store.ErrBadCursor) {
		t.Fatalf("another list's cursor: %v, want ErrBadCursor", err)
	}
}
