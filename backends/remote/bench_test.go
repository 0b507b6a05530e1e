package remote_test

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/keyport/keyport/backends/file"
	"github.com/keyport/keyport/backends/remote"
	"github.com/keyport/keyport/credhelper"
	"github.com/keyport/keyport/server/storage"
)

// benchRegistries is the account the benchmarks use: 50 registries, all
// for project web.
const benchRegistries = 50

func benchAPI(b *testing.B) (*api, string) {
	a := newAPI(b)
	a.project("web")
	for i := range benchRegistries {
		a.cred(fmt.Sprintf("reg %d", i), "custom", fmt.Sprintf("r%d.example.com", i), fmt.Sprintf("u%d", i), fmt.Sprintf("secret-%d", i))
	}
	return a, a.token(storage.RoleReader, "web")
}

// BenchmarkGetWarm is a helper process's `get` on a warm cache, store
// construction included (a process builds it every time); compare with
// BenchmarkFileStoreGet.
func BenchmarkGetWarm(b *testing.B) {
	a, tok := benchAPI(b)
	dir := b.TempDir()
	for i := range benchRegistries { // every secret cached
		if _, err := remote.New(opts(a.url, tok, "web", dir, nil, nil)).Get(ctx, fmt.Sprintf("r%d.example.com", i)); err != nil {
			b.Fatal(err)
		}
	}
	before := a.requests.Load()
	b.ResetTimer()
	for range b.N {
		if _, err := remote.New(opts(a.url, tok, "web", dir, nil, nil)).Get(ctx, "r7.example.com"); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if n := a.requests.Load() - before; n != 0 {
		b.Fatalf("warm gets made %d requests", n)
	}
}

// BenchmarkFileStoreGet is the same `get` on the encrypted file store.
func BenchmarkFileStoreGet(b *testing.B) {
	dir := b.TempDir()
	fs := file.New(dir, file.Options{})
	for i := range benchRegistries {
		if err := fs.Put(ctx, credhelper.Credentials{ServerURL: fmt.Sprintf("r%d.example.com", i), Username: fmt.Sprintf("u%d", i), Secret: fmt.Sprintf("secret-%d", i)}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for range b.N {
		if _, err := file.New(dir, file.Options{}).Get(ctx, "r7.example.com"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetCold is a `get` with no cache: a list and a get against
// keyportd's real handler (SQLite) on loopback.
func BenchmarkGetCold(b *testing.B) {
	a, tok := benchAPI(b)
	dir := b.TempDir()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		os.RemoveAll(dir)
		b.StartTimer()
		if _, err := remote.New(opts(a.url, tok, "web", dir, nil, nil)).Get(ctx, "r7.example.com"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(a.requests.Load())/float64(b.N), "requests/op")
}

// BenchmarkRequestsPer1000Gets counts API requests for 1,000 `get`s spread
// round-robin over 50 registries, each by a new helper process, with the
// default TTL, over 10 minutes and over an hour of (simulated) time.
func BenchmarkRequestsPer1000Gets(b *testing.B) {
	a, tok := benchAPI(b)
	for _, span := range []time.Duration{10 * time.Minute, time.Hour} {
		b.Run(span.String(), func(b *testing.B) {
			var total int64
			for range b.N {
				dir := b.TempDir()
				clk := newClock()
				before := a.requests.Load()
				for i := range 1000 {
					key := fmt.Sprintf("r%d.example.com", i%benchRegistries)
					if _, err := remote.New(opts(a.url, tok, "web", dir, clk, nil)).Get(ctx, key); err != nil {
						b.Fatal(err)
					}
					clk.Advance(span / 1000)
				}
				total += a.requests.Load() - before
			}
			b.ReportMetric(float64(total)/float64(b.N), "requests/1000gets")
		})
	}
}
