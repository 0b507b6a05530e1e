package dockerconfig

import (
	"strings"
	"testing"
)

func TestDiff(t *testing.T) {
	tests := []struct {
		name, old, new, want string
	}{
		{name: "equal", old: "a\nb\n", new: "a\nb\n", want: ""},
		{name: "both empty", want: ""},
		{
			name: "new file",
			new:  "a\nb\n",
			want: "@@ -0,0 +1,2 @@\n+a\n+b\n",
		},
		{
			name: "change in the middle with context",
			old:  "1\n2\n3\n4\n5\n6\n7\n8\n9\n",
			new:  "1\n2\n3\n4\nfive\n6\n7\n8\n9\n",
			want: "@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n",
		},
		{
			name: "two distant changes give two hunks",
			old:  "a\n1\n2\n3\n4\n5\n6\n7\n8\nb\n",
			new:  "A\n1\n2\n3\n4\n5\n6\n7\n8\nB\n",
			want: "@@ -1,4 +1,4 @@\n-a\n+A\n 1\n 2\n 3\n@@ -7,4 +7,4 @@\n 6\n 7\n 8\n-b\n+B\n",
		},
		{
			name: "missing final newline",
			old:  "a",
			new:  "a\n",
			want: "@@ -1 +1 @@\n-a\n\\ No newline at end of file\n+a\n",
		},
		{
			name: "secrets are masked",
			old:  "{\n\t\"auths\": {\n\t\t\"h\": {\n\t\t\t\"auth\": \"c2VjcmV0OnB3\",\n\t\t\t\"Password\": \"p\\\"w\"\n\t\t}\n\t}\n}\n",
			new:  "{\n\t\"auths\": {}\n}\n",
			want: "@@ -1,8 +1,3 @@\n {\n-\t\"auths\": {\n-\t\t\"h\": {\n-\t\t\t\"auth\": \"<redacted>\",\n-\t\t\t\"Password\": \"<redacted>\"\n-\t\t}\n-\t}\n+\t\"auths\": {}\n }\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Diff([]byte(tt.old), []byte(tt.new)); got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestDiffNeverShowsSecrets(t *testing.T) {
	old := readTestdata(t, "config-full.json")
	cfg, err := ParseConfig(old)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.RemoveAuths("https://index.docker.io/v1/", "ghcr.io", "registry.example.com:5000"); err != nil {
		t.Fatal(err)
	}
	diff := Diff(old, cfg.Bytes())
	for _, secret := range []string{"ZG9ja2VydXNlcjpodWItcGFzczp3aXRoOmNvbG9ucw", "ghp_examplePAT", "eyJhbGciOi"} {
		if strings.Contains(diff, secret) {
			t.Errorf("diff shows %q:\n%s", secret, diff)
		}
	}
	if !strings.Contains(diff, `-		"ghcr.io": {`) {
		t.Errorf("diff does not show the removed entry:\n%s", diff)
	}
}

func TestRedactSecrets(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"auth value", `{"auth": "dXNlcjpwdw=="}`, `{"auth": "<redacted>"}`},
		{"any case, no spaces", `{"Password":"pw","IdentityToken":"t"}`, `{"Password":"<redacted>","IdentityToken":"<redacted>"}`},
		{"registrytoken across lines", "{\"registrytoken\" :\n\t\"tok\"}", "{\"registrytoken\" :\n\t\"<redacted>\"}"},
		{"escaped quote inside the value", `{"password": "a\"b\\", "x": 1}`, `{"password": "<redacted>", "x": 1}`},
		{"other members kept", `{"username": "u", "email": "auth"}`, `{"username": "u", "email": "auth"}`},
		{"a key name as a value is not a key", `["auth", "pw"]`, `["auth", "pw"]`},
		{"non-string value kept", `{"auth": null, "password": 5}`, `{"auth": null, "password": 5}`},
		{"unterminated value masked to the end", `{"auth": "dXNl`, `{"auth": "<redacted>"`},
		{"unterminated key", `{"auth`, `{"auth`},
		{"no secrets", "plain text\n", "plain text\n"},
		{"escapes in the key name", `{"\u0061uth": "S1", "pass\u0077ord": "S2", "\/x": "kept"}`, `{"\u0061uth": "<redacted>", "pass\u0077ord": "<redacted>", "\/x": "kept"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(RedactSecrets([]byte(tt.in))); got != tt.want {
				t.Errorf("RedactSecrets(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
