package e2e

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keyport/keyport/dockerconfig"
	"github.com/keyport/keyport/internal/testkit"
)

// helpersIn parses a config.json and returns its credHelpers, failing the
// test when the file does not parse.
func helpersIn(t *testing.T, path string) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := dockerconfig.ParseConfig(data)
	if err != nil {
		t.Fatalf("config.json no longer parses: %v\n%s", err, data)
	}
	out := map[string]bool{}
	for i := range 200 {
		if _, ok := cfg.CredHelper(fmt.Sprintf("r%d.example.com", i)); ok {
			out[fmt.Sprintf("r%d.example.com", i)] = true
		}
	}
	if v, ok := cfg.Object().Get("x-keep"); !ok || string(v) != `"survives"` {
		t.Fatalf("an unrelated key was lost: %s", data)
	}
	return out
}

// TestKillDuringConfigure SIGKILLs `configure docker` at random moments, 100
// times: config.json always parses and holds the old or the new state.
func TestKillDuringConfigure(t *testing.T) {
	work := t.TempDir()
	cfgPath := filepath.Join(work, "config.json")
	os.WriteFile(cfgPath, []byte(`{"x-keep": "survives", "auths": {}}`), 0o600)
	env := testkit.Env("HOME="+work, "KEYPORT_HOME="+filepath.Join(work, "kp"), "KEYPORT_BACKEND=file")
	// Kill anywhere in a run's lifetime: measure one first.
	start := time.Now()
	if r := run(t, env, nil, helperBin, "configure", "docker", "--config", cfgPath, "--registry", "r199.example.com"); r.code != 0 {
		t.Fatalf("configure: %+v", r)
	}
	lifetime := time.Since(start)
	killed := 0
	for trial := range 100 {
		before := helpersIn(t, cfgPath)
		reg := fmt.Sprintf("r%d.example.com", trial)
		cmd := exec.Command(helperBin, "configure", "docker", "--config", cfgPath, "--registry", reg)
		cmd.Env = env
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rand.Int64N(int64(lifetime))))
		_ = cmd.Process.Signal(syscall.SIGKILL)
		if err := cmd.Wait(); err != nil {
			killed++
		}
		after := helpersIn(t, cfgPath)
		grew := len(after) - len(before)
		if grew < 0 || grew > 1 || (grew == 1 && !after[reg]) {
			t.Fatalf("trial %d: neither old nor new state: before %v after %v", trial, before, after)
		}
	}
	if killed == 0 {
		t.Fatal("no configure was killed mid-run; the test proved nothing")
	}
	t.Logf("killed at random points of a %v run: %d of 100 died before finishing; config.json parsed and held old or new state every time", lifetime, killed)
}

// TestConcurrentConfigure runs 16 `configure docker` processes on one file at
// once: every registry each of them added is there afterwards.
func TestConcurrentConfigure(t *testing.T) {
	work := t.TempDir()
	cfgPath := filepath.Join(work, "config.json")
	os.WriteFile(cfgPath, []byte(`{"x-keep": "survives"}`), 0o600)
	env := testkit.Env("HOME="+work, "KEYPORT_HOME="+filepath.Join(work, "kp"), "KEYPORT_BACKEND=file")
	const procs, each = 16, 4
	var wg sync.WaitGroup
	for p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				r := run(t, env, nil, helperBin, "configure", "docker", "--config", cfgPath, "--registry", fmt.Sprintf("r%d.example.com", p*each+i))
				if r.code != 0 {
					t.Errorf("configure: %+v", r)
				}
			}
		}()
	}
	wg.Wait()
	if got := helpersIn(t, cfgPath); len(got) != procs*each {
		t.Fatalf("%d of %d registries configured: edits were lost", len(got), procs*each)
	}
}
