package server

import (
	"errors"
	"net/http"
	"time"

	"github.com/keyport/keyport/server/storage"
)

type projectJSON struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	CreatedAt   time.Time `json:"createdAt"`
}

func toProjectJSON(p storage.Project) projectJSON {
	return projectJSON{ID: p.ID, Name: p.Name, Description: p.Description, CreatedAt: p.CreatedAt}
}

const maxDescription = 200

// listProjects lists the team's projects; a bound token sees its own only.
func listProjects(rc *reqCtx) error {
	page, err := parsePage(rc.r)
	if err != nil {
		return err
	}
	out, pj, err := rc.projectList(page)
	if err != nil {
		return err
	}
	writeJSON(rc.w, http.StatusOK, map[string]any{"data": map[string]any{"projects": out}, "pagination": pj})
	return nil
}

func (rc *caller) projectList(page storage.Page) ([]projectJSON, paginationJSON, error) {
	var only []string
	if rc.bound() {
		only = rc.tok.Projects
	}
	ps, err := rc.s.store.ListProjects(rc.ctx, rc.team, only, fetchPage(page))
	if err != nil {
		return nil, paginationJSON{}, err
	}
	keep, pj := pageResult(len(ps), page, func(i int) string { return ps[i].ID })
	out := make([]projectJSON, 0, keep)
	for _, p := range ps[:keep] {
		out = append(out, toProjectJSON(p))
	}
	return out, pj, nil
}

func getProject(rc *reqCtx) error {
	id := rc.r.PathValue("id")
	if !validID(id) || (rc.bound() && !containsString(rc.tok.Projects, id)) {
		return errorf(http.StatusNotFound, "project %q not found", truncate(id, 64))
	}
	ps, err := rc.s.store.ListProjects(rc.ctx, rc.team, []string{id}, storage.Page{Limit: 1})
	if err != nil {
		return err
	}
	if len(ps) == 0 {
		return errorf(http.StatusNotFound, "project %q not found", id)
	}
	writeJSON(rc.w, http.StatusOK, map[string]any{"data": toProjectJSON(ps[0])})
	return nil
}

func createProject(rc *reqCtx) error {
	if err := rc.requireRole("create projects", storage.RoleAdmin); err != nil {
		return err
	}
	if err := rc.requireUnbound("create projects"); err != nil {
		return err
	}
	var body struct {
		Name        *string `json:"name"`
		Description *string `json:"description"`
	}
	if err := rc.decodeBody(&body); err != nil {
		return err
	}
	details := map[string]string{}
	name := deref(body.Name)
	if why := validateName(name); why != "" {
		details["name"] = why
	}
	if len(deref(body.Description)) > maxDescription {
		details["description"] = "must be at most 200 characters"
	}
	if len(details) > 0 {
		return badFields(details)
	}
	p := storage.Project{TeamID: rc.team, ID: slug(name), Name: name, Description: deref(body.Description), CreatedAt: rc.s.now().UTC().Truncate(time.Microsecond)}
	if err := rc.s.store.CreateProject(rc.ctx, p); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return errorf(http.StatusConflict, "a project with id %q already exists", p.ID)
		}
		return err
	}
	writeJSON(rc.w, http.StatusCreated, map[string]any{"data": toProjectJSON(p)})
	return nil
}

func deleteProject(rc *reqCtx) error {
	if err := rc.requireRole("delete projects", storage.RoleAdmin); err != nil {
		return err
	}
	if err := rc.requireUnbound("delete projects"); err != nil {
		return err
	}
	id := rc.r.PathValue("id")
	if !validID(id) {
		return errorf(http.StatusNotFound, "project %q not found", truncate(id, 64))
	}
	if err := rc.s.store.DeleteProject(rc.ctx, rc.team, id); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return errorf(http.StatusNotFound, "project %q not found", id)
		}
		return err
	}
	writeJSON(rc.w, http.StatusOK, map[string]any{"data": map[string]any{}})
	return nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
