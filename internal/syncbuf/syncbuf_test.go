package syncbuf

import (
	"strings"
	"sync"
	"testing"
)

func TestBuffer(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				b.Write([]byte("x"))
			}
		}()
	}
	wg.Wait()
	if got := len(b.String()); got != 800 {
		t.Fatalf("%d bytes after 800 one-byte writes", got)
	}

	limited := Buffer{Limit: 5}
	for _, w := range []string{"abc", "defg", "hij"} {
		if n, err := limited.Write([]byte(w)); n != len(w) || err != nil {
			t.Fatalf("Write(%q) = %d, %v; want all of it reported written", w, n, err)
		}
	}
	if got := limited.String(); got != "abcde" {
		t.Fatalf("limited buffer holds %q, want the first 5 bytes %q", got, "abcde")
	}
	if strings.Contains(limited.String(), "h") {
		t.Fatal("kept bytes past the limit")
	}
}
