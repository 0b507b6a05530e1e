// Package e2e proves keyport's promises across both programs: hostile input
// changes nothing, no secret leaks, crashes leave files whole.
package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyport/keyport/internal/testkit"
)

var (
	helperBin   string // docker-credential-keyport
	keyportdBin string
)

func TestMain(m *testing.M) {
	testkit.Main(m, func(dir string) {
		helperBin = filepath.Join(dir, "docker-credential-keyport")
		keyportdBin = filepath.Join(dir, "keyportd")
	})
}

// result is one finished process.
type result struct {
	stdout, stderr string
	code           int
}

// run runs bin with args, stdin and env, and never fails the test itself.
func run(t *testing.T, env []string, stdin []byte, bin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running %s: %v", filepath.Base(bin), err)
	}
	return r
}

// snapshot hashes every file under dirs (names and contents), so a test can
// show that a refused request changed nothing on disk.
func snapshot(t *testing.T, dirs ...string) string {
	t.Helper()
	h := sha256.New()
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || strings.HasSuffix(path, ".lock") {
				return err
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "%s\x00%x\x00", path, sha256.Sum256(data))
			return nil
		})
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}
