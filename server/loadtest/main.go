// Command loadtest measures keyportd on loopback: how many credential
// resolutions per second it serves (GET /v1/integrations/registries/{id} and
// the list filtered by project) with closed-loop workers, and the latency
// p50/p99 of gets at a fixed request rate (1000/s by default) with an
// open-loop generator, latency counted from each request's scheduled start so
// a stalled server cannot hide its queueing.
//
// It starts keyportd in-process on 127.0.0.1 (a real listener and
// http.Server, the access log off) on a throwaway database:
//
//	go run ./server/loadtest                      # SQLite in a temp dir
//	go run ./server/loadtest -db postgres         # a throwaway schema in $KEYPORT_TEST_POSTGRES_DSN
//	go run ./server/loadtest -db postgres://...   # that database (tables created, not dropped)
package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/keyport/keyport/server"
	"github.com/keyport/keyport/server/seal"
	"github.com/keyport/keyport/server/storage"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

func run() error {
	dbFlag := flag.String("db", "sqlite", "sqlite, postgres (throwaway schema in $KEYPORT_TEST_POSTGRES_DSN) or a DSN")
	duration := flag.Duration("duration", 5*time.Second, "length of each throughput phase")
	workers := flag.Int("concurrency", 16, "closed-loop workers in the throughput phases")
	rate := flag.Int("rate", 1000, "requests per second in the fixed-rate phase")
	fixedFor := flag.Duration("fixed-duration", 5*time.Second, "length of the fixed-rate phase")
	nCreds := flag.Int("credentials", 50, "credentials to seed (half restricted to the project)")
	flag.Parse()

	ctx := context.Background()
	dsn, kind, cleanup, err := database(ctx, *dbFlag)
	if err != nil {
		return err
	}
	defer cleanup()

	st, err := storage.OpenMigrated(ctx, dsn)
	if err != nil {
		return err
	}
	defer st.Close()
	key := make([]byte, seal.KeySize)
	_, _ = rand.Read(key)
	sealer, err := seal.New(key)
	if err != nil {
		return err
	}
	api, err := server.New(server.Config{Store: st, Sealer: sealer})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: api, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	base := "http://" + ln.Addr().String()

	getID, token, err := seed(ctx, st, sealer, *nCreds)
	if err != nil {
		return err
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 512, MaxIdleConns: 512}, Timeout: 10 * time.Second}
	getURL := base + "/v1/integrations/registries/" + getID
	listURL := base + "/v1/integrations/registries?project=bench"

	fmt.Printf("keyportd loadtest: %s, GOMAXPROCS=%d, %d credentials, loopback HTTP\n", kind, runtime.GOMAXPROCS(0), *nCreds)
	for _, phase := range []struct{ name, url string }{{"get", getURL}, {"list?project", listURL}} {
		_ = throughput(client, phase.url, token, *workers, time.Second) // warm up
		r := throughput(client, phase.url, token, *workers, *duration)
		fmt.Printf("  %-13s %8.0f req/s  (%d ok, %d errors, %d workers, %s)\n",
			phase.name, float64(r.ok)/r.elapsed.Seconds(), r.ok, r.errors, *workers, *duration)
	}
	time.Sleep(time.Second) // let the database settle after the saturation phases
	lat, errs, achieved := fixedRate(client, getURL, token, *rate, *fixedFor)
	if len(lat) == 0 {
		return errors.New("no request succeeded in the fixed-rate phase")
	}
	slices.Sort(lat)
	fmt.Printf("  get @ %d/s   p50 %s  p90 %s  p99 %s  max %s  (%d ok, %d errors, achieved %.0f req/s)\n",
		*rate, pct(lat, 50), pct(lat, 90), pct(lat, 99), lat[len(lat)-1].Round(time.Microsecond), len(lat), errs, achieved)
	return nil
}

func pct(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p + 99) / 100
	if i > 0 {
		i--
	}
	return sorted[i].Round(time.Microsecond)
}

// database picks the DSN and says how to clean up after.
func database(ctx context.Context, flagValue string) (dsn, kind string, cleanup func(), err error) {
	switch flagValue {
	case "sqlite":
		dir, err := os.MkdirTemp("", "keyportd-loadtest-")
		if err != nil {
			return "", "", nil, err
		}
		return "sqlite:" + filepath.Join(dir, "keyportd.db"), "sqlite", func() { os.RemoveAll(dir) }, nil
	case "postgres":
		base := os.Getenv("KEYPORT_TEST_POSTGRES_DSN")
		if base == "" {
			return "", "", nil, errors.New(`KEYPORT_TEST_POSTGRES_DSN is not set: eval "$(scripts/postgres.sh start /tmp/kp-pg)"`)
		}
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		schema := "kp_loadtest_" + hex.EncodeToString(b)
		db, err := sql.Open("pgx", base)
		if err != nil {
			return "", "", nil, err
		}
		if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
			db.Close()
			return "", "", nil, fmt.Errorf("create schema: %w", err)
		}
		sep := "?"
		if strings.Contains(base, "?") {
			sep = "&"
		}
		return base + sep + "search_path=" + schema, "postgres", func() {
			_, _ = db.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
			db.Close()
		}, nil
	}
	kind = "postgres"
	if storage.SQLitePath(flagValue) != "" {
		kind = "sqlite"
	}
	return flagValue, kind, func() {}, nil
}

// seed makes project "bench", n credentials (even ones restricted to it)
// and a reader token bound to it, so every request checks a restriction.
func seed(ctx context.Context, st storage.Store, sealer *seal.Sealer, n int) (getID, token string, err error) {
	if _, err := server.CreateProject(ctx, st, server.DefaultTeam, "bench", ""); err != nil && !errors.Is(err, storage.ErrConflict) {
		return "", "", err
	}
	now := time.Now().UTC()
	for i := range n {
		id := fmt.Sprintf("cred%04d", i)
		sealed, err := sealer.Seal([]byte(fmt.Sprintf("password-%d", i)), []byte("keyport/credential/"+server.DefaultTeam+"/"+id))
		if err != nil {
			return "", "", err
		}
		c := storage.Credential{TeamID: server.DefaultTeam, ID: id, Name: id, Provider: "custom",
			RegistryURL: "registry.example.com", Username: "user", SealedSecret: sealed,
			Restricted: i%2 == 0, Projects: []string{}, CreatedAt: now, UpdatedAt: now}
		if c.Restricted {
			c.Projects = []string{"bench"}
			getID = id
		}
		if err := st.CreateCredential(ctx, c); err != nil {
			return "", "", err
		}
	}
	if getID == "" {
		return "", "", errors.New("need at least one credential")
	}
	token, _, err = server.NewToken(ctx, st, server.DefaultTeam, "loadtest", storage.RoleReader, []string{"bench"})
	return getID, token, err
}

func get(client *http.Client, url, token string) error {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		return fmt.Errorf("status %d", res.StatusCode)
	}
	return nil
}

type result struct {
	ok, errors int64
	elapsed    time.Duration
}

// throughput runs workers that each send the next request as soon as the
// previous one is answered.
func throughput(client *http.Client, url, token string, workers int, d time.Duration) result {
	var ok, bad atomic.Int64
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if err := get(client, url, token); err != nil {
					bad.Add(1)
				} else {
					ok.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return result{ok: ok.Load(), errors: bad.Load(), elapsed: time.Since(start)}
}

// fixedRate sends rate requests per second for d regardless of answers
// (open loop) and returns each successful request's latency from its
// scheduled start.
func fixedRate(client *http.Client, url, token string, rate int, d time.Duration) ([]time.Duration, int, float64) {
	total := int(d.Seconds() * float64(rate))
	interval := time.Second / time.Duration(rate)
	lat := make([]time.Duration, total)
	okFlags := make([]bool, total)
	sem := make(chan struct{}, 1024)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range total {
		at := start.Add(time.Duration(i) * interval)
		if w := time.Until(at); w > 0 {
			time.Sleep(w)
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := get(client, url, token); err == nil {
				lat[i], okFlags[i] = time.Since(at), true
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	var out []time.Duration
	errs := 0
	for i := range total {
		if okFlags[i] {
			out = append(out, lat[i])
		} else {
			errs++
		}
	}
	return out, errs, float64(total) / elapsed.Seconds()
}
