package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// FuzzCreateCredential sends any body to POST /v1/integrations/registries
// (and PATCH, for the same decoder): the server answers 201 or a 4xx with the
// error shape, never a 5xx, never a body that is not JSON, and never echoes
// the password it was sent in an error.
func FuzzCreateCredential(f *testing.F) {
	for _, seed := range []string{
		`{"name":"hub","provider":"dockerhub","credentials":{"username":"u","password":"p"}}`,
		`{"name":"gh","provider":"github","username":"u","password":"p","restrictions":{"restricted":false}}`,
		`{"name":"g1","provider":"gcr","keyfile":{"type":"service_account","client_email":"a@b","private_key":"-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n"}}`,
		`{"name":"j1","provider":"custom","auths":{"r.example.com":{"auth":"dTpw"}}}`,
		`{"name":"x","restrictions":{"restricted":true,"projects":["nope"]}}`,
		`[`, `{"name":1}`, `null`, ``,
	} {
		f.Add(seed)
	}
	e := newEnv(f, "sqlite")
	client := &http.Client{}
	f.Fuzz(func(t *testing.T, body string) {
		for _, method := range []string{"POST", "PATCH"} {
			path := "/v1/integrations/registries"
			if method == "PATCH" {
				path += "/hub"
			}
			req, _ := http.NewRequest(method, e.url+path, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+e.admin)
			res, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode >= 500 {
				t.Fatalf("%s answered %d for %q: %s", method, res.StatusCode, body, raw)
			}
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatalf("%s answer is not JSON: %q", method, raw)
			}
			if res.StatusCode >= 400 {
				if _, ok := m["error"].(map[string]any); !ok {
					t.Fatalf("%s error without the error shape: %s", method, raw)
				}
				if strings.Contains(body, `"password":"p4ss-canary`) && strings.Contains(string(raw), "p4ss-canary") {
					t.Fatalf("error echoes the password: %s", raw)
				}
			}
		}
	})
}
