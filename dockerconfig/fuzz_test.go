package dockerconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// decodeTop decodes a JSON object's members, numbers kept as written, so
// values can be compared by meaning. ok is false if data is not an object.
func decodeTop(data []byte) (map[string]any, bool) {
	if len(bytes.TrimSpace(data)) == 0 {
		return map[string]any{}, true
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false // trailing data
	}
	return m, true
}

// FuzzEditConfig checks that an edit never panics, refuses exactly what is
// not a JSON object, and changes only the member it edits.
func FuzzEditConfig(f *testing.F) {
	f.Add([]byte(`{"auths":{"h":{"auth":"dTpw"}},"proxies":{"default":{}},"x":[1,2.0]}`), "h", uint8(0))
	f.Add([]byte(`{"credHelpers":{"a":"b"},"credsStore":"desktop"}`), "a", uint8(2))
	f.Add([]byte(`{"auths":null}`), "h", uint8(3))
	f.Add([]byte(`[]`), "h", uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, registry string, op uint8) {
		before, isObject := decodeTop(data)
		cfg, err := ParseConfig(data)
		if err != nil {
			if isObject {
				t.Fatalf("refused a JSON object: %v", err)
			}
			return
		}
		if !isObject {
			t.Fatalf("accepted a document that is not a JSON object")
		}
		edited, err := applyOp(cfg, op, registry)
		if err != nil {
			if !errors.Is(err, ErrNotObject) && utf8.ValidString(registry) {
				t.Fatalf("edit %d: unexpected error %v", op%4, err)
			}
			return
		}
		out := cfg.Bytes()
		after, ok := decodeTop(out)
		if !ok {
			t.Fatalf("output is not a JSON object:\n%s", out)
		}
		for k, v := range before {
			if k != edited && !reflect.DeepEqual(v, after[k]) {
				t.Fatalf("member %q changed: %v -> %v", k, v, after[k])
			}
		}
		for k := range after {
			if _, was := before[k]; !was && k != edited {
				t.Fatalf("member %q appeared", k)
			}
		}
		if op%4 == 0 {
			if got, _ := cfg.CredHelper(registry); got != "keyport" {
				t.Fatalf("credHelpers[%q] = %q after setting it", registry, got)
			}
		}
		reparsed, err := ParseConfig(out)
		if err != nil || !bytes.Equal(reparsed.Bytes(), out) {
			t.Fatalf("output does not round-trip: %v", err)
		}
	})
}

// applyOp runs one of the editing operations and names the member it may change.
func applyOp(cfg *Config, op uint8, registry string) (string, error) {
	switch op % 4 {
	case 0:
		return keyCredHelpers, cfg.SetCredHelper(registry, "keyport")
	case 1:
		return keyCredsStore, cfg.SetCredsStore(registry)
	case 2:
		_, err := cfg.RemoveCredHelper(registry)
		return keyCredHelpers, err
	default:
		_, err := cfg.RemoveAuths(registry)
		return keyAuths, err
	}
}

// problemReason matches the part of a problem message after the key: fixed
// text only, so no value from the file can appear in it.
var problemReason = regexp.MustCompile(`^field "[A-Za-z]+" is a [a-z]+, not a string: ` + regexp.QuoteMeta(ErrFieldType.Error()) + `$`)

// FuzzParseAuths checks that parsing never panics, every entry is complete,
// and a problem message is the key plus fixed text, never a value.
func FuzzParseAuths(f *testing.F) {
	f.Add([]byte(`{"auths":{"h":{"auth":"dTpw"},"g":{"username":"u","password":"p"},"t":{"identitytoken":"x"}}}`))
	f.Add([]byte(`{"auths":{"h":{"auth":"!!"},"e":{},"s":"str","n":{"auth":1}}}`))
	f.Add([]byte(`{"auths":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, problems, err := ParseAuths(data)
		if err != nil {
			if entries != nil || problems != nil {
				t.Fatal("results returned with an error")
			}
			return
		}
		for _, e := range entries {
			if e.Key == "" || e.Username == "" || e.Secret == "" {
				t.Fatalf("incomplete entry for key %q", e.Key)
			}
		}
		fixed := map[string]bool{}
		for _, e := range []error{ErrEntryNotObject, ErrBadBase64, ErrNoColon, ErrEmptyUsername,
			ErrEmptySecret, ErrNoCredential, ErrEmptyKey, ErrDuplicateKey} {
			fixed[e.Error()] = true
		}
		for _, p := range problems {
			var ap *AuthProblem
			if !errors.As(p, &ap) {
				t.Fatalf("problem %v is not an *AuthProblem", p)
			}
			reason := ap.Err.Error()
			if !fixed[reason] && !problemReason.MatchString(reason) {
				t.Fatalf("problem reason %q is not fixed text", reason)
			}
			if !strings.HasSuffix(p.Error(), reason) {
				t.Fatalf("problem %q does not end with its reason", p)
			}
		}
	})
}

// FuzzAddCredentialHelper checks that the registries.conf editor never
// panics, that its result lists the helper, and that a second edit is a no-op.
func FuzzAddCredentialHelper(f *testing.F) {
	f.Add([]byte("credential-helpers = [\n  \"containers-auth.json\", # c\n]\n[[registry]]\nlocation = \"x\"\n"))
	f.Add([]byte("a = { b = [1, 2], c = '''x''' }\nd = 1979-05-27 07:32:00Z\n[t]\n"))
	f.Add([]byte("s = \"\"\"\n[x]\"\"\"\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := AddCredentialHelper(data, "keyport")
		if err != nil {
			return
		}
		helpers, ok, err := CredentialHelpers(out)
		if err != nil || !ok || !slices.Contains(helpers, "keyport") {
			t.Fatalf("after the edit: helpers %v, %v, %v\n%s", helpers, ok, err, out)
		}
		again, err := AddCredentialHelper(out, "keyport")
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("second edit changed the file: %v", err)
		}
	})
}
