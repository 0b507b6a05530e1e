package server

import (
	"regexp"
	"strings"
)

// nameRE is the account API's rule for names: a letter first, then words of
// letters and digits joined by single hyphens or spaces.
var nameRE = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9]*([- ][a-zA-Z0-9]+)*$`)

// idRE is the account API's rule for ids (slugs of names, team and project
// ids in paths and bodies).
var idRE = regexp.MustCompile(`^[a-zA-Z](-?[a-zA-Z0-9]+(-[a-zA-Z0-9]+)*)?$`)

const (
	minNameLen = 3
	maxNameLen = 39
)

// validateName returns "" when name is acceptable, else why not.
func validateName(name string) string {
	switch {
	case name == "":
		return "is required"
	case len(name) < minNameLen || len(name) > maxNameLen:
		return "must be 3 to 39 characters"
	case !nameRE.MatchString(name):
		return "must start with a letter and hold words of letters and digits joined by single hyphens or spaces"
	}
	return ""
}

// slug turns a valid name into its id: lower case, spaces become hyphens.
// Lower-casing makes "My Hub" and "my-hub" the same id, so they conflict
// instead of living side by side under names people cannot tell apart.
func slug(name string) string {
	return strings.ToLower(strings.ReplaceAll(name, " ", "-"))
}

// validID reports whether id is a well-formed id (of a project, team,
// credential or token binding).
func validID(id string) bool {
	return len(id) <= maxNameLen && idRE.MatchString(id)
}
