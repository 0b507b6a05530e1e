package dockerconfig

import (
	"encoding/base64"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestParseAuths(t *testing.T) {
	type problem struct {
		key string
		err error
	}
	tests := []struct {
		name     string
		in       string
		want     []AuthEntry
		problems []problem
	}{
		{
			name: "auth with colons in the password",
			in:   `{"auths": {"h": {"auth": "` + b64("me:pa:ss:") + `"}}}`,
			want: []AuthEntry{{"h", "me", "pa:ss:"}},
		},
		{
			name: "unpadded base64 and NUL padding",
			in:   `{"auths": {"h": {"auth": "` + strings.TrimRight(b64("me:pw\x00"), "=") + `"}}}`,
			want: []AuthEntry{{"h", "me", "pw"}},
		},
		{
			name: "username and password",
			in:   `{"auths": {"ghcr.io": {"username": "octo", "password": "ghp_x", "email": "a@b"}}}`,
			want: []AuthEntry{{"ghcr.io", "octo", "ghp_x"}},
		},
		{
			name: "auth wins over username/password, as in docker",
			in:   `{"auths": {"h": {"auth": "` + b64("a:b") + `", "username": "c", "password": "d"}}}`,
			want: []AuthEntry{{"h", "a", "b"}},
		},
		{
			name: "identity token",
			in:   `{"auths": {"r.example:5000": {"identitytoken": "tok", "auth": "` + b64("u:p") + `"}}}`,
			want: []AuthEntry{{"r.example:5000", TokenUsername, "tok"}},
		},
		{
			name: "field names match case-insensitively, as in docker",
			in:   `{"auths": {"h": {"Auth": "` + b64("u:p") + `"}}}`,
			want: []AuthEntry{{"h", "u", "p"}},
		},
		{
			name: "key kept as written, order kept",
			in:   `{"auths": {"https://index.docker.io/v1/": {"auth": "` + b64("u:1") + `"}, "b": {"auth": "` + b64("u:2") + `"}}}`,
			want: []AuthEntry{{"https://index.docker.io/v1/", "u", "1"}, {"b", "u", "2"}},
		},
		{name: "no auths", in: `{"credsStore": "desktop"}`},
		{name: "null auths", in: `{"auths": null}`},
		{name: "empty file", in: ``},
		{
			name:     "auths not an object",
			in:       `{"auths": ["x"]}`,
			problems: []problem{{"", ErrEntryNotObject}},
		},
		{
			name: "malformed entries are skipped one by one",
			in: `{"auths": {
				"ok": {"auth": "` + b64("u:p") + `"},
				"bad64": {"auth": "%%%not-base64%%%"},
				"nocolon": {"auth": "` + b64("justuser") + `"},
				"nouser": {"auth": "` + b64(":secretpw") + `"},
				"nopass": {"auth": "` + b64("user:") + `"},
				"onlypass": {"password": "secretpw"},
				"onlyuser": {"username": "u"},
				"empty": {},
				"string": "c2VjcmV0",
				"null": null,
				"number": {"auth": 12345},
				"": {"auth": "` + b64("u:p") + `"},
				"dup": {"auth": "` + b64("u:old") + `"},
				"dup": {"auth": "` + b64("u:new") + `"}
			}}`,
			want: []AuthEntry{{"ok", "u", "p"}, {"dup", "u", "new"}},
			problems: []problem{
				{"bad64", ErrBadBase64}, {"nocolon", ErrNoColon}, {"nouser", ErrEmptyUsername},
				{"nopass", ErrEmptySecret}, {"onlypass", ErrEmptyUsername}, {"onlyuser", ErrEmptySecret},
				{"empty", ErrNoCredential}, {"string", ErrEntryNotObject}, {"null", ErrEntryNotObject},
				{"number", ErrFieldType}, {"", ErrEmptyKey}, {"dup", ErrDuplicateKey},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entries, problems, err := ParseAuths([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(entries, tt.want) {
				t.Errorf("entries = %+v\nwant %+v", entries, tt.want)
			}
			if len(problems) != len(tt.problems) {
				t.Fatalf("problems = %v\nwant %v", problems, tt.problems)
			}
			for i, p := range problems {
				var ap *AuthProblem
				if !errors.As(p, &ap) || ap.Key != tt.problems[i].key || !errors.Is(p, tt.problems[i].err) {
					t.Errorf("problem %d = %v, want key %q: %v", i, p, tt.problems[i].key, tt.problems[i].err)
				}
				if ap != nil && ap.Key != "" && !strings.Contains(p.Error(), `"`+ap.Key+`"`) {
					t.Errorf("problem %q does not name its key", p)
				}
				for _, secret := range []string{"secretpw", "c2VjcmV0", "not-base64", "justuser", b64(":secretpw"), "12345"} {
					if strings.Contains(p.Error(), secret) {
						t.Errorf("problem %q leaks %q", p, secret)
					}
				}
			}
		})
	}
}

func TestParseAuthsRefusesNonObject(t *testing.T) {
	for _, in := range []string{`[]`, `"auths"`, `{"auths": `, `{"a":1} x`} {
		if _, _, err := ParseAuths([]byte(in)); err == nil {
			t.Errorf("ParseAuths(%q): no error", in)
		}
	}
}

func TestParseAuthsFixture(t *testing.T) {
	entries, problems, err := ParseAuths(readTestdata(t, "config-full.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := []AuthEntry{
		{"https://index.docker.io/v1/", "dockeruser", "hub-pass:with:colons"},
		{"ghcr.io", "octocat", "ghp_examplePAT"},
		{"registry.example.com:5000", TokenUsername, "eyJhbGciOi.example.token"},
	}
	if !reflect.DeepEqual(entries, want) {
		t.Errorf("entries = %+v", entries)
	}
	if len(problems) != 1 || !errors.Is(problems[0], ErrNoCredential) {
		t.Errorf("problems = %v", problems)
	}
}
