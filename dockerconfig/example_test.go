package dockerconfig_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/keyport/keyport/dockerconfig"
)

// `configure docker --registry ghcr.io`: point one registry at keyport,
// keeping the rest of the file, atomically and under the file's lock.
func ExampleUpdate() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "config.json")
	_ = os.WriteFile(path, []byte(`{"psFormat": "table {{.ID}}", "credHelpers": {"gcr.io": "gcloud"}}`), 0o600)

	res, err := dockerconfig.Update(context.Background(), path, dockerconfig.EditConfig(func(c *dockerconfig.Config) error {
		return c.SetCredHelper("ghcr.io", "keyport")
	}))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(string(res.New))
	// Output:
	// {
	// 	"psFormat": "table {{.ID}}",
	// 	"credHelpers": {
	// 		"gcr.io": "gcloud",
	// 		"ghcr.io": "keyport"
	// 	}
	// }
}

// `import --remove --dry-run`: what would change, secrets masked.
func ExamplePreview() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "config.json")
	_ = os.WriteFile(path, []byte("{\n\t\"auths\": {\n\t\t\"ghcr.io\": {\n\t\t\t\"auth\": \"b2N0bzpnaHBfc2VjcmV0\"\n\t\t}\n\t}\n}\n"), 0o600)

	entries, problems, _ := dockerconfig.ParseAuths([]byte("{\"auths\": {\"ghcr.io\": {\"auth\": \"b2N0bzpnaHBfc2VjcmV0\"}}}"))
	fmt.Println(entries[0].Key, entries[0].Username, len(problems))

	res, _ := dockerconfig.Preview(path, dockerconfig.EditConfig(func(c *dockerconfig.Config) error {
		_, err := c.RemoveAuths("ghcr.io")
		return err
	}))
	fmt.Print(dockerconfig.Diff(res.Old, res.New))
	// Output:
	// ghcr.io octo 0
	// @@ -1,7 +1,3 @@
	//  {
	// -	"auths": {
	// -		"ghcr.io": {
	// -			"auth": "<redacted>"
	// -		}
	// -	}
	// +	"auths": {}
	//  }
}

// `configure containers --registries-conf FILE`.
func ExampleAddCredentialHelper() {
	out, _ := dockerconfig.AddCredentialHelper([]byte("# mine\nshort-name-mode = \"enforcing\"\n\n[[registry]]\nlocation = \"example.com\"\n"), "keyport")
	fmt.Print(string(out))
	// Output:
	// # mine
	// short-name-mode = "enforcing"
	//
	// credential-helpers = ["keyport", "containers-auth.json"]
	//
	// [[registry]]
	// location = "example.com"
}
