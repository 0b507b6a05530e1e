package dockerconfig

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Environment of a worker process started by TestUpdateConcurrentProcesses.
const (
	workerFileEnv = "DOCKERCONFIG_TEST_WORKER_FILE"
	workerIDEnv   = "DOCKERCONFIG_TEST_WORKER_ID"
	workerNEnv    = "DOCKERCONFIG_TEST_WORKER_N"
)

// TestMain lets the test binary re-exec itself as a worker that edits a
// shared file, to prove the lock works across processes, not just goroutines.
func TestMain(m *testing.M) {
	if path := os.Getenv(workerFileEnv); path != "" {
		n, _ := strconv.Atoi(os.Getenv(workerNEnv))
		if err := addHelpers(path, os.Getenv(workerIDEnv), n); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// setHelper is an EditFunc adding credHelpers[registry] = "keyport".
func setHelper(registry string) EditFunc {
	return func(old []byte) ([]byte, error) {
		cfg, err := ParseConfig(old)
		if err != nil {
			return nil, err
		}
		if err := cfg.SetCredHelper(registry, "keyport"); err != nil {
			return nil, err
		}
		return cfg.Bytes(), nil
	}
}

func addHelpers(path, id string, n int) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := range n {
		if _, err := Update(ctx, path, setHelper(fmt.Sprintf("%s-%d.example", id, i))); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // beat the umask
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestUpdateFollowsSymlinkAndKeepsMode(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "dotfiles", "config.json")
	if err := os.Mkdir(filepath.Dir(target), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, target, `{"psFormat": "x"}`, 0o640)
	docker := filepath.Join(dir, ".docker")
	if err := os.Mkdir(docker, 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(docker, "config.json")
	if err := os.Symlink("../dotfiles/config.json", link); err != nil {
		t.Fatal(err)
	}

	res, err := Update(context.Background(), link, setHelper("ghcr.io"))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Changed || res.Path != target {
		t.Errorf("Result = changed %v, path %s; want the target %s", res.Changed, res.Path, target)
	}
	if dest, err := os.Readlink(link); err != nil || dest != "../dotfiles/config.json" {
		t.Errorf("link now %q, %v: want it unchanged", dest, err)
	}
	if got := readFile(t, target); !strings.Contains(got, `"ghcr.io": "keyport"`) || !strings.Contains(got, `"psFormat": "x"`) {
		t.Errorf("target content:\n%s", got)
	}
	if fi, _ := os.Stat(target); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode = %v, want 0640", fi.Mode().Perm())
	}
	assertNoTempFiles(t, filepath.Dir(target))
}

func TestUpdateCreatesFile(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		path string
		link string // a dangling symlink at path pointing here
	}{
		{name: "new file in a new directory", path: filepath.Join(dir, "run", "containers", "auth.json")},
		{name: "dangling symlink", path: filepath.Join(dir, "link.json"), link: filepath.Join(dir, "real.json")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.path
			if tt.link != "" {
				if err := os.Symlink(tt.link, tt.path); err != nil {
					t.Fatal(err)
				}
				want = tt.link
			}
			if _, err := Update(context.Background(), tt.path, setHelper("h")); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Lstat(want)
			if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
				t.Fatalf("created %s: %v, %v; want a 0600 regular file", want, fi, err)
			}
			if got := readFile(t, tt.path); got != "{\n\t\"credHelpers\": {\n\t\t\"h\": \"keyport\"\n\t}\n}\n" {
				t.Errorf("content:\n%s", got)
			}
		})
	}
}

func TestUpdateRefusesAndChangesNothing(t *testing.T) {
	tests := []struct {
		name    string
		content string
		mode    os.FileMode
		wantErr error
	}{
		{"invalid JSON", "{\"auths\": {\"h\": {\"auth\": \"c2VjcmV0OnB3\"}},,}\n", 0o600, new(SyntaxError)},
		{"top level not an object", "[\"a\"]\n", 0o600, ErrNotObject},
		{"read-only file", "{\"a\": 1}\n", 0o444, ErrReadOnly},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "config.json")
			writeFile(t, path, tt.content, tt.mode)
			before, _ := os.Stat(path)

			_, err := Update(context.Background(), path, setHelper("h"))
			if err == nil {
				t.Fatal("no error")
			}
			if se, ok := tt.wantErr.(*SyntaxError); ok {
				if !errors.As(err, &se) {
					t.Errorf("err = %v, want a SyntaxError", err)
				}
			} else if !errors.Is(err, tt.wantErr) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), path) || strings.Contains(err.Error(), "c2VjcmV0") {
				t.Errorf("err %q should name the file and no secret", err)
			}
			if got := readFile(t, path); got != tt.content {
				t.Errorf("file changed to %q", got)
			}
			after, _ := os.Stat(path)
			if !os.SameFile(before, after) || after.Mode() != before.Mode() {
				t.Error("file was replaced")
			}
			assertNoTempFiles(t, dir)
		})
	}
}

func TestUpdateNoChangeDoesNotWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	content := "{\"credHelpers\": {\"h\": \"keyport\"}}" // not docker's layout: a rewrite would show
	writeFile(t, path, content, 0o444)                   // and a write would be refused
	noop := func(old []byte) ([]byte, error) { return old, nil }
	res, err := Update(context.Background(), path, noop)
	if err != nil || res.Changed || readFile(t, path) != content {
		t.Errorf("Update = %+v, %v", res, err)
	}
}

func TestPreviewDoesNotWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	writeFile(t, path, `{"auths": {"h": {"auth": "c2VjcmV0OnB3"}}}`, 0o600)
	res, err := Preview(path, func(old []byte) ([]byte, error) {
		cfg, err := ParseConfig(old)
		if err != nil {
			return nil, err
		}
		_, err = cfg.RemoveAuths("h")
		return cfg.Bytes(), err
	})
	if err != nil || !res.Changed {
		t.Fatalf("Preview = %+v, %v", res, err)
	}
	if readFile(t, path) != `{"auths": {"h": {"auth": "c2VjcmV0OnB3"}}}` {
		t.Error("Preview wrote the file")
	}
	diff := res.Diff()
	if !strings.Contains(diff, "--- "+path) || !strings.Contains(diff, `"auths": {}`) || strings.Contains(diff, "c2VjcmV0") {
		t.Errorf("diff:\n%s", diff)
	}
}

func TestUpdateLockTimeout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	release := make(chan struct{})
	held := make(chan struct{})
	go func() {
		_, _ = Update(context.Background(), path, func(old []byte) ([]byte, error) {
			close(held)
			<-release
			return old, nil
		})
	}()
	<-held
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := Update(ctx, path, setHelper("h"))
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), path+".lock") {
		t.Errorf("err = %v, want a deadline error naming the lock", err)
	}
}

func TestUpdateConcurrentGoroutines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	writeFile(t, path, `{"proxies": {"default": {"httpProxy": "http://p:3128"}}}`, 0o600)
	const workers, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() { errs <- addHelpers(path, fmt.Sprintf("g%d", w), each) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	assertHelpers(t, path, "g", workers, each)
}

func TestUpdateConcurrentProcesses(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "config.json")
	writeFile(t, path, `{"proxies": {"default": {"httpProxy": "http://p:3128"}}}`, 0o600)
	const workers, each = 4, 15
	cmds := make([]*exec.Cmd, workers)
	for w := range cmds {
		cmd := exec.Command(exe)
		cmd.Env = append(os.Environ(), workerFileEnv+"="+path, fmt.Sprintf("%s=p%d", workerIDEnv, w), fmt.Sprintf("%s=%d", workerNEnv, each))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[w] = cmd
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("worker: %v", err)
		}
	}
	assertHelpers(t, path, "p", workers, each)
}

func assertHelpers(t *testing.T, path, prefix string, workers, each int) {
	t.Helper()
	cfg, err := ParseConfig([]byte(readFile(t, path)))
	if err != nil {
		t.Fatal(err)
	}
	for w := range workers {
		for i := range each {
			reg := fmt.Sprintf("%s%d-%d.example", prefix, w, i)
			if _, ok := cfg.CredHelper(reg); !ok {
				t.Errorf("lost the edit for %s", reg)
			}
		}
	}
	if _, ok := cfg.Object().Get("proxies"); !ok {
		t.Error("lost proxies")
	}
	assertNoTempFiles(t, filepath.Dir(path))
}

func assertNoTempFiles(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}

func TestWriteFileAtomic(t *testing.T) {
	// ReplaceFile is the same write without the fsyncs: same behaviour.
	for name, write := range map[string]func(string, []byte, os.FileMode) error{
		"WriteFileAtomic": WriteFileAtomic, "ReplaceFile": ReplaceFile,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "registries.conf")
			writeFile(t, path, "old\n", 0o644)
			if err := write(path, []byte("new\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if fi, _ := os.Stat(path); readFile(t, path) != "new\n" || fi.Mode().Perm() != 0o644 {
				t.Errorf("content %q mode %v", readFile(t, path), fi.Mode().Perm())
			}
			fresh := filepath.Join(dir, "new.cache")
			if err := write(fresh, []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
			if fi, _ := os.Stat(fresh); readFile(t, fresh) != "x" || fi.Mode().Perm() != 0o600 {
				t.Errorf("new file: content %q mode %v", readFile(t, fresh), fi.Mode().Perm())
			}
			if err := write(dir, []byte("x"), 0o600); err == nil {
				t.Error("replacing a directory was accepted")
			}
			if left, _ := filepath.Glob(filepath.Join(dir, ".*.tmp-*")); len(left) != 0 {
				t.Errorf("temporary files left: %v", left)
			}
		})
	}
}
