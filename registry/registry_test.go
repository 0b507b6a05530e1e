package registry

import (
	"context"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyport/keyport/credhelper"
)

// basicRegistry answers /v2/ like a distribution registry with htpasswd:
// 401 with a Basic challenge unless the password is right.
func basicRegistry(w http.ResponseWriter, r *http.Request) {
	if u, p, ok := r.BasicAuth(); ok && u == "me" && p == "right" {
		w.WriteHeader(http.StatusOK)
		return
	}
	w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
	w.WriteHeader(http.StatusUnauthorized)
}

func TestVerifyExplains(t *testing.T) {
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(basicRegistry))
	defer tlsSrv.Close()
	plainSrv := httptest.NewServer(http.HandlerFunc(basicRegistry))
	defer plainSrv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSrv.Certificate().Raw}), 0o600)
	tlsHost := strings.TrimPrefix(tlsSrv.URL, "https://")
	plainHost := strings.TrimPrefix(plainSrv.URL, "http://")

	tests := []struct {
		name   string
		host   string
		secret string
		opts   Options
		status int
		reason string
	}{
		{"accepted", tlsHost, "right", Options{CAFile: ca}, 0, ""},
		{"rejected", tlsHost, "wrong", Options{CAFile: ca}, 401, "the credentials were rejected"},
		{"untrusted TLS", tlsHost, "right", Options{}, 0, "TLS certificate not trusted"},
		{"plain HTTP", plainHost, "right", Options{}, 0, "speaks plain HTTP"},
		{"plain HTTP allowed", plainHost, "right", Options{Insecure: true}, 0, ""},
		{"unreachable", "127.0.0.1:1", "right", Options{}, 0, "unreachable"},
		{"bad CA file", tlsHost, "right", Options{CAFile: filepath.Join(t.TempDir(), "none.pem")}, 0, "reading CA file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(context.Background(), credhelper.Credentials{ServerURL: tt.host, Username: "me", Secret: tt.secret}, tt.opts)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.reason) {
				t.Fatalf("err = %v, want it to say %q", err, tt.reason)
			}
			var rerr *Error
			if tt.status != 0 && (!errors.As(err, &rerr) || rerr.StatusCode != tt.status) {
				t.Fatalf("err = %#v, want status %d", err, tt.status)
			}
			if strings.Contains(err.Error(), tt.secret) {
				t.Fatal("the error holds the password")
			}
		})
	}
}
