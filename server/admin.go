package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keyport/keyport/server/storage"
)

// CreateProject validates name like the API does and creates the project,
// for operators working without curl (keyportd project create).
func CreateProject(ctx context.Context, store storage.Store, team, name, description string) (storage.Project, error) {
	if !validID(team) {
		return storage.Project{}, fmt.Errorf("invalid team id %q", team)
	}
	if why := validateName(name); why != "" {
		return storage.Project{}, fmt.Errorf("project name %s", why)
	}
	if len(description) > maxDescription {
		return storage.Project{}, errors.New("description must be at most 200 characters")
	}
	p := storage.Project{TeamID: team, ID: slug(name), Name: name, Description: description, CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	if err := store.CreateProject(ctx, p); err != nil {
		return storage.Project{}, err
	}
	return p, nil
}

// ValidID reports whether id is well formed for a team or project.
func ValidID(id string) bool { return validID(id) }
