package dockerconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// topLevelRaw decodes a document's members into compact raw JSON, in order.
func topLevelRaw(t testing.TB, data []byte) (keys []string, values map[string]string) {
	t.Helper()
	obj, err := ParseObject(data)
	if err != nil {
		t.Fatalf("ParseObject: %v", err)
	}
	values = map[string]string{}
	for _, m := range obj.members {
		var b bytes.Buffer
		if err := json.Compact(&b, m.value); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, m.key)
		values[m.key] = b.String()
	}
	return keys, values
}

func TestConfigEditsKeepEverythingElse(t *testing.T) {
	in := readTestdata(t, "config-full.json")
	cfg, err := ParseConfig(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.SetCredHelper("localhost:5000", "keyport"); err != nil {
		t.Fatal(err)
	}
	if err := cfg.SetCredHelper("gcr.io", "keyport"); err != nil {
		t.Fatal(err)
	}
	if err := cfg.SetCredsStore("keyport"); err != nil {
		t.Fatal(err)
	}
	removed, err := cfg.RemoveAuths("ghcr.io", "not-there.example.com")
	if err != nil || !slices.Equal(removed, []string{"ghcr.io"}) {
		t.Fatalf("RemoveAuths = %v, %v", removed, err)
	}
	out := cfg.Bytes()

	inKeys, inVals := topLevelRaw(t, in)
	outKeys, outVals := topLevelRaw(t, out)
	if want := append(slices.Clone(inKeys), "credsStore"); !slices.Equal(outKeys, want) {
		t.Errorf("top-level order:\n got %v\nwant %v", outKeys, want)
	}
	for _, k := range inKeys {
		if k == "auths" || k == "credHelpers" {
			continue
		}
		if inVals[k] != outVals[k] {
			t.Errorf("%s changed:\n got %s\nwant %s", k, outVals[k], inVals[k])
		}
	}
	wantHelpers := `{"gcr.io":"keyport","public.ecr.aws":"ecr-login","localhost:5000":"keyport"}`
	if outVals["credHelpers"] != wantHelpers {
		t.Errorf("credHelpers = %s, want %s", outVals["credHelpers"], wantHelpers)
	}
	if strings.Contains(outVals["auths"], "ghcr.io") || !strings.Contains(outVals["auths"], "creds-in-store") {
		t.Errorf("auths = %s", outVals["auths"])
	}
	if !bytes.HasSuffix(out, []byte("\n}\n")) || !bytes.Contains(out, []byte("\n\t\"credsStore\": \"keyport\"\n")) {
		t.Errorf("output not tab-indented like docker:\n%s", out)
	}
}

func TestConfigGolden(t *testing.T) {
	tests := []struct {
		name string
		in   string
		edit func(*Config) error
		want string
	}{
		{
			name: "empty file gets credHelpers",
			in:   "",
			edit: func(c *Config) error { return c.SetCredHelper("ghcr.io", "keyport") },
			want: "{\n\t\"credHelpers\": {\n\t\t\"ghcr.io\": \"keyport\"\n\t}\n}\n",
		},
		{
			name: "null credHelpers is replaced",
			in:   `{"credHelpers": null, "z": 1}`,
			edit: func(c *Config) error { return c.SetCredHelper("ghcr.io", "keyport") },
			want: "{\n\t\"credHelpers\": {\n\t\t\"ghcr.io\": \"keyport\"\n\t},\n\t\"z\": 1\n}\n",
		},
		{
			name: "credsStore replaced in place",
			in:   `{"a": "x", "credsStore": "desktop", "b": [1e3]}`,
			edit: func(c *Config) error { return c.SetCredsStore("keyport") },
			want: "{\n\t\"a\": \"x\",\n\t\"credsStore\": \"keyport\",\n\t\"b\": [\n\t\t1e3\n\t]\n}\n",
		},
		{
			name: "last auths entry removed leaves {}",
			in:   `{"auths": {"h": {"auth": "dTpw"}}}`,
			edit: func(c *Config) error { _, err := c.RemoveAuths("h"); return err },
			want: "{\n\t\"auths\": {}\n}\n",
		},
		{
			name: "remove cred helper",
			in:   `{"credHelpers": {"a": "x", "b": "keyport", "c": "y"}}`,
			edit: func(c *Config) error { _, err := c.RemoveCredHelper("b"); return err },
			want: "{\n\t\"credHelpers\": {\n\t\t\"a\": \"x\",\n\t\t\"c\": \"y\"\n\t}\n}\n",
		},
		{
			name: "duplicate key collapses to the edited one",
			in:   `{"credsStore": "a", "x": 1, "credsStore": "b"}`,
			edit: func(c *Config) error { return c.SetCredsStore("keyport") },
			want: "{\n\t\"credsStore\": \"keyport\",\n\t\"x\": 1\n}\n",
		},
		{
			name: "escapes and odd keys survive as written",
			in:   `{"k\u00e9y": "\u003cv\u003e", "\ud83d\ude00": 1.000}`,
			edit: func(c *Config) error { return c.SetCredsStore("<keyport>") },
			want: "{\n\t\"k\\u00e9y\": \"\\u003cv\\u003e\",\n\t\"\\ud83d\\ude00\": 1.000,\n\t\"credsStore\": \"<keyport>\"\n}\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ParseConfig([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if err := tt.edit(cfg); err != nil {
				t.Fatal(err)
			}
			if got := string(cfg.Bytes()); got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestConfigRefusesBadNested(t *testing.T) {
	cfg, err := ParseConfig([]byte(`{"credHelpers": ["not", "an", "object"], "auths": 3}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.SetCredHelper("h", "keyport"); !errors.Is(err, ErrNotObject) {
		t.Errorf("SetCredHelper err = %v, want ErrNotObject", err)
	}
	if _, err := cfg.RemoveAuths("h"); !errors.Is(err, ErrNotObject) {
		t.Errorf("RemoveAuths err = %v, want ErrNotObject", err)
	}
}

func TestConfigGetters(t *testing.T) {
	cfg, err := ParseConfig([]byte(`{"credsStore": "desktop", "credHelpers": {"gcr.io": "gcloud", "bad": 1}}`))
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := cfg.CredsStore(); !ok || s != "desktop" {
		t.Errorf("CredsStore = %q, %v", s, ok)
	}
	if s, ok := cfg.CredHelper("gcr.io"); !ok || s != "gcloud" {
		t.Errorf("CredHelper(gcr.io) = %q, %v", s, ok)
	}
	for _, reg := range []string{"bad", "absent"} {
		if s, ok := cfg.CredHelper(reg); ok {
			t.Errorf("CredHelper(%s) = %q, want none", reg, s)
		}
	}
}

func TestParseObject(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		wantKeys []string
		wantErr  error
	}{
		{"empty", "", nil, nil},
		{"whitespace", " \n\t", nil, nil},
		{"empty object", "{}", nil, nil},
		{"order kept", `{"b":1,"a":2,"c":{"z":1,"y":2}}`, []string{"b", "a", "c"}, nil},
		{"duplicates kept", `{"a":1,"a":2}`, []string{"a", "a"}, nil},
		{"array", `[1,2]`, nil, ErrNotObject},
		{"string", `"x"`, nil, ErrNotObject},
		{"null", `null`, nil, ErrNotObject},
		{"truncated", `{"a":`, nil, new(SyntaxError)},
		{"trailing comma", `{"a":1,}`, nil, new(SyntaxError)},
		{"two objects", `{}{}`, nil, new(SyntaxError)},
		{"comment", "{\n// c\n}", nil, new(SyntaxError)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj, err := ParseObject([]byte(tt.in))
			switch want := tt.wantErr.(type) {
			case nil:
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if got := obj.Keys(); !reflect.DeepEqual(got, tt.wantKeys) && len(got)+len(tt.wantKeys) > 0 {
					t.Errorf("keys = %v, want %v", got, tt.wantKeys)
				}
			case *SyntaxError:
				var se *SyntaxError
				if !errors.As(err, &se) || se.Line < 1 || se.Column < 1 {
					t.Errorf("err = %v, want a SyntaxError with a position", err)
				}
			default:
				if !errors.Is(err, want) {
					t.Errorf("err = %v, want %v", err, want)
				}
			}
		})
	}
}

func TestSyntaxErrorDoesNotQuoteContent(t *testing.T) {
	_, err := ParseConfig([]byte("{\n\t\"auths\": {\"h\": {\"auth\": \"c2VjcmV0OnB3\" x}}\n}"))
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v", err)
	}
	if se.Line != 2 || strings.Contains(err.Error(), "c2VjcmV0") || strings.Contains(err.Error(), "'x'") {
		t.Errorf("err = %q (line %d)", err, se.Line)
	}
}

func TestEditConfigNoChangeKeepsBytes(t *testing.T) {
	tests := []struct {
		name, in string
		edit     func(*Config) error
	}{
		{"helper already set", "{\n  \"credHelpers\": {\"ghcr.io\": \"keyport\"}\n}", func(c *Config) error { return c.SetCredHelper("ghcr.io", "keyport") }},
		{"removing an absent helper", `{"a":1}`, func(c *Config) error { _, err := c.RemoveCredHelper("x"); return err }},
		{"removing an absent auth", `{"auths": {"h": {}}}`, func(c *Config) error { _, err := c.RemoveAuths("x"); return err }},
		{"credsStore already set", `{"credsStore":"keyport"}`, func(c *Config) error { return c.SetCredsStore("keyport") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := EditConfig(tt.edit)([]byte(tt.in))
			if err != nil || string(out) != tt.in {
				t.Errorf("got %q, %v; want the input unchanged", out, err)
			}
		})
	}
}
