// Package deps pins the modules keyport builds on until code imports them.
package deps

import (
	_ "github.com/docker/docker-credential-helpers/client"
	_ "github.com/docker/docker-credential-helpers/credentials"
	_ "github.com/gofrs/flock"
	_ "github.com/google/go-containerregistry/pkg/authn"
	_ "github.com/google/go-containerregistry/pkg/name"
	_ "github.com/google/go-containerregistry/pkg/v1/remote"
	_ "github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "github.com/rogpeppe/go-internal/testscript"
	_ "github.com/urfave/cli/v2"
	_ "github.com/zalando/go-keyring"
	_ "golang.org/x/crypto/nacl/secretbox"
	_ "golang.org/x/crypto/scrypt"
	_ "golang.org/x/term"
	_ "modernc.org/sqlite"
)
