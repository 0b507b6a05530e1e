package protocol

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/remote"
	"github.com/keyport/keyport/credhelper"
)

// CompanionName is the program that carries the management commands and
// the HTTP client, installed beside docker-credential-keyport.
const CompanionName = "keyport"

// Companion finds the keyport program: beside this binary first, then on PATH.
func Companion() (string, error) {
	if self, err := os.Executable(); err == nil {
		if self, err = filepath.EvalSymlinks(self); err == nil {
			beside := filepath.Join(filepath.Dir(self), CompanionName)
			if _, err := os.Stat(beside); err == nil {
				return beside, nil
			}
		}
	}
	if path, err := exec.LookPath(CompanionName); err == nil {
		return path, nil
	}
	return "", fmt.Errorf("the %q program, which carries the management commands and the account API client, is not installed beside %s nor on PATH (install both: make build puts them in bin/)", CompanionName, credhelper.HelperName)
}

// companionAPI reaches the account API by running `keyport api list|get`:
// the token goes on stdin (never argv), the answer comes back as a
// remote.Reply on stdout.
type companionAPI struct{ cfg remote.APIConfig }

// CompanionAPI is the helper's remote.Options.NewAPI.
func CompanionAPI(cfg remote.APIConfig) (remote.API, error) {
	return companionAPI{cfg: cfg}, nil
}

// EnvAPIBase passes the API root to `keyport api`; the CA file and the
// deadlines go in the variables people set (backends.EnvAPICAFile, ...).
const EnvAPIBase = "KEYPORT_API_BASE"

func (a companionAPI) List(ctx context.Context, project string) ([]remote.Credential, remote.RateInfo, error) {
	r, err := a.run(ctx, "list", "--project", project)
	if err != nil {
		return nil, remote.RateInfo{}, err
	}
	return r.Credentials, r.Rate, nil
}

func (a companionAPI) Get(ctx context.Context, id string) (remote.Credential, remote.RateInfo, error) {
	r, err := a.run(ctx, "get", "--", id)
	if err != nil || r.Credential == nil {
		if err == nil {
			err = fmt.Errorf("%w: keyport api get answered no credential", remote.ErrUnavailable)
		}
		return remote.Credential{}, r.Rate, err
	}
	return *r.Credential, r.Rate, nil
}

func (a companionAPI) run(ctx context.Context, args ...string) (remote.Reply, error) {
	var reply remote.Reply
	path, err := Companion()
	if err != nil {
		return reply, fmt.Errorf("%w: %w", remote.ErrUnavailable, err)
	}
	if a.cfg.Timeout > 0 {
		var cancel context.CancelFunc
		// The child keeps the same budget; a little more here for its start.
		ctx, cancel = context.WithTimeout(ctx, a.cfg.Timeout+time.Second)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, path, append([]string{"api"}, args...)...)
	cmd.Env = append(os.Environ(),
		EnvAPIBase+"="+a.cfg.Base, backends.EnvAPICAFile+"="+a.cfg.CAFile,
		backends.EnvAPITimeout+"="+a.cfg.Timeout.String(), backends.EnvConnectTimeout+"="+a.cfg.ConnectTimeout.String())
	cmd.Stdin = bytes.NewReader([]byte(a.cfg.Token + "\n"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if jerr := json.Unmarshal(out, &reply); jerr != nil {
		if err == nil {
			err = jerr
		}
		return reply, fmt.Errorf("%w: keyport api: %w %s", remote.ErrUnavailable, err, credhelper.OneLine(stderr.String(), 300))
	}
	if reply.Error != nil {
		return reply, reply.Error.Err()
	}
	return reply, nil
}
