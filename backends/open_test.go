package backends

import (
	"path/filepath"
	"testing"
)

func TestKeychainLikelyOn(t *testing.T) {
	busDir := t.TempDir()
	exists := func(p string) bool { return p == filepath.Join(busDir, "bus") }
	tests := []struct {
		name string
		goos string
		env  map[string]string
		want bool
	}{
		// A token saved in the macOS or Windows keychain must be looked for
		// there, with no D-Bus in sight.
		{"macOS", "darwin", nil, true},
		{"Windows", "windows", nil, true},
		{"Linux with a session bus address", "linux", map[string]string{"DBUS_SESSION_BUS_ADDRESS": "unix:path=/run/user/1000/bus"}, true},
		{"Linux with the systemd user bus", "linux", map[string]string{"XDG_RUNTIME_DIR": busDir}, true},
		{"Linux, runtime dir without a bus", "linux", map[string]string{"XDG_RUNTIME_DIR": t.TempDir()}, false},
		{"headless Linux (a CI runner)", "linux", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string { return tt.env[k] }
			if got := keychainLikelyOn(tt.goos, getenv, exists); got != tt.want {
				t.Errorf("keychainLikelyOn(%s, %v) = %v, want %v", tt.goos, tt.env, got, tt.want)
			}
		})
	}
}
