// Package dockerconfig reads and edits the files that tell container tools
// which credentials to use: Docker's config.json, containers' auth.json
// (same shape: "auths" and "credHelpers") and containers' registries.conf.
//
// The files belong to the user and to other tools, so every edit is surgical:
// JSON documents are kept as an ordered list of raw members (see Object) so
// that keys keyport does not know about, their order and their exact values
// survive; registries.conf is edited as text so comments and tables survive.
// Writes go through Update, which locks, re-reads, edits and replaces the file
// atomically, following symlinks and keeping the file mode.
//
// Nothing in this package ever puts secret material (passwords, tokens, the
// base64 "auth" value) into an error message or a diff.
package dockerconfig
