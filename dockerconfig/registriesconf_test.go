package dockerconfig

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestAddCredentialHelper(t *testing.T) {
	const line = `credential-helpers = ["keyport", "containers-auth.json"]`
	tests := []struct {
		name string
		in   string
		want string // "" means: unchanged
	}{
		{name: "empty file", in: "", want: line + "\n"},
		{
			name: "no key, no table: appended",
			in:   "# comment\nunqualified-search-registries = [\"docker.io\"]",
			want: "# comment\nunqualified-search-registries = [\"docker.io\"]\n" + line + "\n",
		},
		{
			name: "no key: inserted before the first table and its comments",
			in: "unqualified-search-registries = [\"docker.io\"]\n\n# mirror for docker.io\n[[registry]]\n" +
				"location = \"docker.io\"\ncredential-helpers = [\"not-top-level\"]\n",
			want: "unqualified-search-registries = [\"docker.io\"]\n\n" + line + "\n\n# mirror for docker.io\n[[registry]]\n" +
				"location = \"docker.io\"\ncredential-helpers = [\"not-top-level\"]\n",
		},
		{
			name: "no key: a '[' inside a multi-line value is not a table",
			in:   "a = [\n  [1, 2],\n  [3],\n]\nb = \"\"\"\n[not-a-table]\n\"\"\"\nc = '''\n[x]'''\n[t]\nk = 1\n",
			want: "a = [\n  [1, 2],\n  [3],\n]\nb = \"\"\"\n[not-a-table]\n\"\"\"\nc = '''\n[x]'''\n" + line + "\n\n[t]\nk = 1\n",
		},
		{
			name: "existing single-line list",
			in:   "credential-helpers = [ \"containers-auth.json\" ] # keep me\n[aliases]\n",
			want: "credential-helpers = [ \"keyport\", \"containers-auth.json\" ] # keep me\n[aliases]\n",
		},
		{
			name: "existing multi-line list with comments",
			in:   "# helpers\ncredential-helpers = [\n    # first the file\n    \"containers-auth.json\",\n    'pass', # then pass\n]\n",
			want: "# helpers\ncredential-helpers = [\n    # first the file\n    \"keyport\",\n    \"containers-auth.json\",\n    'pass', # then pass\n]\n",
		},
		{
			name: "key after comments and other keys",
			in:   "# Debian default\n#\n# credential-helpers = [\"x\"]\nshort-name-mode = \"enforcing\"\n\"credential-helpers\" = [\"secretservice\"]\n",
			want: "# Debian default\n#\n# credential-helpers = [\"x\"]\nshort-name-mode = \"enforcing\"\n\"credential-helpers\" = [\"keyport\", \"secretservice\"]\n",
		},
		{
			name: "empty list means the default",
			in:   "credential-helpers = []\n",
			want: line + "\n",
		},
		{
			name: "with [[registry]] tables and inline tables",
			in: "unqualified-search-registries = [\"example.com\"]\nx = { a = [1, 2], b = \"]\" }\nd = 1979-05-27 07:32:00Z\n\n" +
				"[[registry]]\nprefix = \"example.com/foo\"\ninsecure = false\n\n[[registry.mirror]]\nlocation = \"m.example.com\"\n",
			want: "unqualified-search-registries = [\"example.com\"]\nx = { a = [1, 2], b = \"]\" }\nd = 1979-05-27 07:32:00Z\n\n" + line + "\n\n" +
				"[[registry]]\nprefix = \"example.com/foo\"\ninsecure = false\n\n[[registry.mirror]]\nlocation = \"m.example.com\"\n",
		},
		{name: "already first", in: "credential-helpers = [\"keyport\", \"containers-auth.json\"]\n"},
		{name: "already listed later: the user's order stays", in: "credential-helpers = [\"pass\", 'keyport']\n"},
		{
			name: "CRLF line endings kept",
			in:   "a = 1\r\n[t]\r\n",
			want: "a = 1\r\n" + line + "\r\n\r\n[t]\r\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AddCredentialHelper([]byte(tt.in), "keyport")
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want
			if want == "" {
				want = tt.in
			}
			if string(got) != want {
				t.Errorf("got:\n%s\nwant:\n%s", got, want)
			}
			helpers, ok, err := CredentialHelpers(got)
			if err != nil || !ok || !slices.Contains(helpers, "keyport") {
				t.Errorf("CredentialHelpers(result) = %v, %v, %v", helpers, ok, err)
			}
			again, err := AddCredentialHelper(got, "keyport")
			if err != nil || string(again) != string(got) {
				t.Errorf("second edit changed the file: %q, %v", again, err)
			}
		})
	}
}

func TestAddCredentialHelperRefuses(t *testing.T) {
	tests := []struct{ name, in string }{
		{"not an array", "credential-helpers = \"keyport\"\n"},
		{"array of numbers", "credential-helpers = [1]\n"},
		{"set twice", "credential-helpers = [\"a\"]\ncredential-helpers = [\"b\"]\n"},
		{"unterminated array", "credential-helpers = [\"a\"\n"},
		{"unterminated string", "a = \"x\n"},
		{"garbage after value", "a = 1 2\n"},
		{"missing equals", "a 1\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := AddCredentialHelper([]byte(tt.in), "keyport")
			if !errors.Is(err, ErrTOML) || !strings.Contains(err.Error(), "line ") {
				t.Errorf("err = %v, want ErrTOML with a line", err)
			}
		})
	}
	if _, err := AddCredentialHelper(nil, `bad"name`); err == nil {
		t.Error("a helper name with a quote was accepted")
	}
}

// The registries.conf Debian ships is all comments: the key is appended.
func TestAddCredentialHelperSystemFile(t *testing.T) {
	data, err := os.ReadFile("/etc/containers/registries.conf")
	if err != nil {
		t.Fatal("no system registries.conf (Debian's containers-common, installed with skopeo by make test):", err)
	}
	got, err := AddCredentialHelper(data, "keyport")
	if err != nil {
		t.Fatal(err)
	}
	const line = "credential-helpers = [\"keyport\", \"containers-auth.json\"]\n"
	if back := strings.Replace(strings.Replace(string(got), line+"\n", "", 1), line, "", 1); back != string(data) {
		t.Error("system file content was not kept")
	}
	helpers, ok, err := CredentialHelpers(got)
	if err != nil || !ok || !slices.Equal(helpers, []string{"keyport", ContainersAuthHelper}) {
		t.Errorf("helpers = %v, %v, %v", helpers, ok, err)
	}
}
