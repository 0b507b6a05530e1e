package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker-credential-helpers/client"
	"github.com/docker/docker-credential-helpers/credentials"
	"github.com/zalando/go-keyring"

	"github.com/keyport/keyport/backends/keychain"
)

// secretFor ties a secret to its username, so a torn or mixed-up entry shows.
func secretFor(user string) string { return "s3cret-of-" + user }

// TestConcurrentProcesses runs many helper processes × mixed operations on
// one store: 16 × 100 and 32 × 200 on the file store, 32 × 200 on the real
// keychain. Each worker owns its keys and remembers what it last wrote; all
// of them also fight over one shared key. Nothing may be lost or torn.
func TestConcurrentProcesses(t *testing.T) {
	cases := []struct {
		backend      string
		workers, ops int
	}{
		{"file", 16, 100},
		{"file", 32, 200},
		{"keychain", 32, 200},
	}
	for _, tc := range cases {
		if testing.Short() {
			// The -race pass re-runs this for the test's own goroutines; the
			// full load already ran once in the normal pass.
			tc.workers, tc.ops = min(tc.workers, 16), min(tc.ops, 50)
		}
		t.Run(fmt.Sprintf("%s/%dx%d", tc.backend, tc.workers, tc.ops), func(t *testing.T) {
			if tc.backend == "keychain" {
				requireKeyringSession(t)
			}
			runConcurrent(t, helperEnv(t, tc.backend), tc.workers, tc.ops)
		})
	}
}

// requireKeyringSession fails when the real Secret Service is not running,
// and empties keyport's items in it.
func requireKeyringSession(t *testing.T) {
	t.Helper()
	if os.Getenv("KEYPORT_TEST_KEYRING") == "" {
		t.Fatal("no Secret Service session: run the tests through scripts/with-keyring.sh (make test does)")
	}
	if err := keyring.DeleteAll(keychain.Service); err != nil && !errors.Is(err, keyring.ErrNotFound) {
		t.Fatal(err)
	}
}

func runConcurrent(t *testing.T, env []string, workers, ops int) {
	p := program(env)
	type state map[string]string // key → last username stored, "" when erased
	results := make([]state, workers)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			mine := state{}
			for i := range ops {
				key := fmt.Sprintf("w%d-r%d.example.com", w, rng.IntN(5))
				switch op := rng.IntN(10); {
				case op < 4:
					user := fmt.Sprintf("u%d-%d", w, i)
					if err := client.Store(p, &credentials.Credentials{ServerURL: key, Username: user, Secret: secretFor(user)}); err != nil {
						errs <- fmt.Errorf("worker %d store: %w", w, err)
						return
					}
					mine[key] = user
				case op < 7:
					c, err := client.Get(p, key)
					want, stored := mine[key]
					switch {
					case err == nil && (!stored || c.Username != want || c.Secret != secretFor(want)):
						errs <- fmt.Errorf("worker %d get %s = %s/%s, want %q", w, key, c.Username, c.Secret, want)
						return
					case err != nil && !(credentials.IsErrCredentialsNotFound(err) && (!stored || want == "")):
						errs <- fmt.Errorf("worker %d get %s: %w (want %q)", w, key, err, want)
						return
					}
				case op < 8:
					err := client.Erase(p, key)
					if err != nil && !strings.Contains(err.Error(), "credentials not found") {
						errs <- fmt.Errorf("worker %d erase: %w", w, err)
						return
					}
					if _, ok := mine[key]; ok || err == nil {
						mine[key] = ""
					}
				case op < 9:
					user := fmt.Sprintf("shared-%d-%d", w, i)
					if err := client.Store(p, &credentials.Credentials{ServerURL: "shared.example.com", Username: user, Secret: secretFor(user)}); err != nil {
						errs <- fmt.Errorf("worker %d shared store: %w", w, err)
						return
					}
				default:
					if _, err := client.List(p); err != nil {
						errs <- fmt.Errorf("worker %d list: %w", w, err)
						return
					}
				}
			}
			results[w] = mine
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	list, err := client.List(p)
	if err != nil {
		t.Fatal(err)
	}
	lost, checked := 0, 0
	for _, mine := range results {
		for key, want := range mine {
			checked++
			if want == "" {
				if _, ok := list[key]; ok {
					t.Errorf("%s was erased last but is listed", key)
				}
				continue
			}
			c, err := client.Get(p, key)
			if err != nil || c.Username != want || c.Secret != secretFor(want) {
				lost++
				t.Errorf("%s = %+v, %v; want %s", key, c, err, want)
			}
		}
	}
	if c, err := client.Get(p, "shared.example.com"); err != nil || c.Secret != secretFor(c.Username) {
		t.Errorf("shared entry torn: %+v, %v", c, err)
	}
	t.Logf("%d workers × %d ops: %d keys checked, %d lost or corrupt", workers, ops, checked, lost)
}

// TestKillDuringStore SIGKILLs `store` at random moments: the store must
// always stay readable, holding the old or the new value.
func TestKillDuringStore(t *testing.T) {
	env := helperEnv(t, "file")
	p := program(env)
	// A store with some bulk, so a write takes long enough to interrupt.
	const seeded = 30
	for i := range seeded {
		user := fmt.Sprintf("bulk%d", i)
		if err := client.Store(p, &credentials.Credentials{ServerURL: fmt.Sprintf("r%d.example.com", i), Username: user, Secret: secretFor(user)}); err != nil {
			t.Fatal(err)
		}
	}
	const trials = 100
	// Kill anywhere in a run's lifetime: measure one first.
	start := time.Now()
	store := exec.Command(helperBin, "store")
	store.Env = env
	store.Stdin = strings.NewReader(`{"ServerURL":"victim.example.com","Username":"first","Secret":"` + secretFor("first") + `"}`)
	if out, err := store.CombinedOutput(); err != nil {
		t.Fatalf("store: %v: %s", err, out)
	}
	lifetime := time.Since(start)
	killed := 0
	for trial := range trials {
		user := fmt.Sprintf("trial%d", trial)
		cmd := exec.Command(helperBin, "store")
		cmd.Env = env
		body, _ := json.Marshal(credentials.Credentials{ServerURL: "victim.example.com", Username: user, Secret: secretFor(user)})
		cmd.Stdin = bytes.NewReader(body)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rand.Int64N(int64(lifetime))))
		_ = cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ProcessState.Sys().(syscall.WaitStatus).Signaled() {
			killed++
		}
		list, err := client.List(p)
		if err != nil {
			t.Fatalf("trial %d: store unreadable after SIGKILL: %v", trial, err)
		}
		if len(list) < seeded {
			t.Fatalf("trial %d: entries lost: %v", trial, list)
		}
		if c, err := client.Get(p, "victim.example.com"); err == nil && c.Secret != secretFor(c.Username) {
			t.Fatalf("trial %d: torn entry %+v", trial, c)
		}
	}
	if killed == 0 {
		t.Fatal("no trial was killed mid-run; the test proved nothing")
	}
	t.Logf("killed at random points of a %v run: %d of %d died before finishing; the store stayed readable every time", lifetime, killed, trials)
	// The next successful write sweeps temp files killed writers left.
	if err := client.Store(p, &credentials.Credentials{ServerURL: "last.example.com", Username: "u", Secret: secretFor("u")}); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(homeOf(env))
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temp file %s left behind after a clean write", e.Name())
		}
	}
}

// TestKillDuringKeychainStore SIGKILLs `store` on the real keychain at
// random moments. The index must name every item the keychain holds, since
// a get answers a key the index does not name as a miss without asking.
func TestKillDuringKeychainStore(t *testing.T) {
	requireKeyringSession(t)
	env := helperEnv(t, "keychain")
	home := homeOf(env)
	run := func(key string) *exec.Cmd {
		cmd := exec.Command(helperBin, "store")
		cmd.Env = env
		cmd.Stdin = strings.NewReader(`{"ServerURL":"` + key + `","Username":"u","Secret":"` + secretFor("u") + `"}`)
		return cmd
	}
	start := time.Now()
	if out, err := run("first.example.com").CombinedOutput(); err != nil {
		t.Fatalf("store: %v: %s", err, out)
	}
	lifetime := time.Since(start)
	trials := 60
	if testing.Short() {
		trials = 20
	}
	killed, landed := 0, 0
	for trial := range trials {
		key := fmt.Sprintf("victim%d.example.com", trial)
		cmd := run(key)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rand.Int64N(int64(lifetime))))
		_ = cmd.Process.Signal(syscall.SIGKILL)
		var ee *exec.ExitError
		if err := cmd.Wait(); errors.As(err, &ee) && ee.ProcessState.Sys().(syscall.WaitStatus).Signaled() {
			killed++
		}
		if _, err := keyring.Get(keychain.Service, key); err != nil {
			continue // killed before the item was written
		}
		landed++
		idx, err := keychain.New(keychain.Options{Dir: home}).List(context.Background())
		if err != nil {
			t.Fatalf("trial %d: index unreadable after SIGKILL: %v", trial, err)
		}
		if _, ok := idx[key]; !ok {
			t.Fatalf("trial %d: the keychain holds %s but the index does not name it", trial, key)
		}
		if c, err := client.Get(program(env), key); err != nil || c.Secret != secretFor("u") {
			t.Fatalf("trial %d: get %s = %+v, %v", trial, key, c, err)
		}
	}
	if killed == 0 || landed == 0 {
		t.Fatalf("%d of %d trials killed, %d items landed: the kills missed the window this test is about", killed, trials, landed)
	}
	t.Logf("%d of %d stores killed mid-run, %d items landed, each named by the index", killed, trials, landed)
}
