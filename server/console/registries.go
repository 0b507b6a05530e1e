package console

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/keyport/keyport/credhelper"
	"github.com/keyport/keyport/credhelper/ggcr"
	"github.com/keyport/keyport/dockerconfig"
	"github.com/keyport/keyport/registry"
	"github.com/keyport/keyport/server"
)

// kind is one "add credentials" form.
type kind struct {
	ID         string // path segment
	Title      string
	Provider   string // the API's provider ("" for json: detected from the registry)
	Blurb      string
	Permission string // which permission the token or account needs
	UserLabel  string
	PassLabel  string
	Registry   string // "fixed" registry shown, "" when asked
	AskHost    bool   // custom, gitlab (optional there)
	HostOpt    bool   // the host may be left empty (gitlab.com)
	Keyfile    bool   // gcr
	JSON       bool   // a Docker config.json
}

var kinds = []kind{
	{ID: "dockerhub", Title: "Docker Hub", Provider: "dockerhub", Registry: "docker.io",
		Blurb:      "Images on hub.docker.com, public or private.",
		Permission: "Use a personal access token with the Read-only (public repo read) scope rather than your password.",
		UserLabel:  "Docker Hub username", PassLabel: "Password or access token"},
	{ID: "gcr", Title: "Google Container Registry / Artifact Registry", Provider: "gcr", Keyfile: true,
		Blurb:      "gcr.io and its regions, or an Artifact Registry host (REGION-docker.pkg.dev).",
		Permission: "The service account needs the Storage Object Viewer role (Container Registry) or Artifact Registry Reader (Artifact Registry)."},
	{ID: "github", Title: "GitHub Container Registry", Provider: "github", Registry: "ghcr.io",
		Blurb:      "Packages on ghcr.io.",
		Permission: "Use a personal access token (classic) with the read:packages scope.",
		UserLabel:  "GitHub username", PassLabel: "Personal access token"},
	{ID: "gitlab", Title: "GitLab Container Registry", Provider: "gitlab", AskHost: true, HostOpt: true,
		Blurb:      "registry.gitlab.com, or the registry of a self-hosted GitLab.",
		Permission: "Use a personal, project or group access token (or a deploy token) with the read_registry scope.",
		UserLabel:  "GitLab username", PassLabel: "Personal access token"},
	{ID: "custom", Title: "Other registry", Provider: "custom", AskHost: true,
		Blurb:      "Any registry that speaks the Docker registry API: Harbor, Quay, Nexus, your own.",
		Permission: "Use an account or robot token that may pull (read) images.",
		UserLabel:  "Username", PassLabel: "Password or token"},
	{ID: "json", Title: "Authenticate with JSON", JSON: true,
		Blurb:      "Paste a Docker config.json (its auths section) and pick the registry to save.",
		Permission: "The credential in the file needs permission to pull from that registry."},
}

func kindByID(id string) (kind, bool) {
	for _, k := range kinds {
		if k.ID == id {
			return k, true
		}
	}
	return kind{}, false
}

// kindOfProvider is the form used to edit a credential of a provider.
func kindOfProvider(p string) kind {
	switch p {
	case "gcr", "gcr-eu", "gcr-us", "gar":
		k, _ := kindByID("gcr")
		return k
	}
	if k, ok := kindByID(p); ok {
		return k
	}
	k, _ := kindByID("custom")
	return k
}

var gcrLocations = []string{"gcr.io", "eu.gcr.io", "us.gcr.io", "asia.gcr.io"}

// --- the list ---

type listData struct {
	Query       string
	Credentials []server.Credential
	Total       int
	Page, Pages int
	PerPage     int
	PrevURL     string
	NextURL     string
}

const defaultPerPage = 20

func (c *Console) listPage(q *req) {
	all, err := c.allCredentials(q)
	if err != nil {
		c.fail(q, err)
		return
	}
	query := strings.TrimSpace(q.r.URL.Query().Get("q"))
	if query != "" {
		needle := strings.ToLower(query)
		kept := all[:0]
		for _, cr := range all {
			hay := strings.ToLower(strings.Join(append([]string{cr.Name, cr.ID, cr.Provider, cr.RegistryURL, cr.Username}, cr.Projects...), "\n"))
			if strings.Contains(hay, needle) {
				kept = append(kept, cr)
			}
		}
		all = kept
	}
	per := defaultPerPage
	if n, err := strconv.Atoi(q.r.URL.Query().Get("per_page")); err == nil && n >= 1 && n <= 100 {
		per = n
	}
	pages := max(1, (len(all)+per-1)/per)
	page := 1
	if n, err := strconv.Atoi(q.r.URL.Query().Get("page")); err == nil && n >= 1 {
		page = min(n, pages)
	}
	d := listData{Query: query, Total: len(all), Page: page, Pages: pages, PerPage: per}
	lo, hi := (page-1)*per, min(page*per, len(all))
	d.Credentials = all[lo:hi]
	link := func(p int) string {
		v := url.Values{}
		if query != "" {
			v.Set("q", query)
		}
		if per != defaultPerPage {
			v.Set("per_page", strconv.Itoa(per))
		}
		v.Set("page", strconv.Itoa(p))
		return "/registries?" + v.Encode()
	}
	if page > 1 {
		d.PrevURL = link(page - 1)
	}
	if page < pages {
		d.NextURL = link(page + 1)
	}
	v := q.view("Registries")
	v.Data = d
	switch q.r.URL.Query().Get("done") {
	case "created":
		v.Notice = "Credentials saved."
	case "deleted":
		v.Notice = "Credentials deleted."
	}
	c.render(q.w, q.r, http.StatusOK, "registries", v)
}

// allCredentials pages through what the token may see. Accounts hold tens of
// registries, not thousands: search and pagination run on the whole list.
func (c *Console) allCredentials(q *req) ([]server.Credential, error) {
	return allPages(func(cursor string) ([]server.Credential, server.Page, error) {
		return q.as.ListCredentials("", 100, cursor)
	})
}

func (c *Console) allProjects(q *req) ([]server.Project, error) {
	return allPages(func(cursor string) ([]server.Project, server.Page, error) {
		return q.as.ListProjects(100, cursor)
	})
}

// allPages follows a list's cursor to its end (at most 100 pages).
func allPages[T any](list func(cursor string) ([]T, server.Page, error)) ([]T, error) {
	var all []T
	cursor := ""
	for range 100 {
		page, p, err := list(cursor)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if !p.More {
			break
		}
		cursor = p.Cursor
	}
	return all, nil
}

// --- adding ---

func (c *Console) choosePage(q *req) {
	v := q.view("Add registry credentials")
	v.Data = kinds
	c.render(q.w, q.r, http.StatusOK, "choose", v)
}

// formData is the add and edit form. It never holds a secret: password and
// keyfile fields are never filled back in, and a pasted config.json travels
// between preview and save sealed (ConfigSealed), never as text.
type formData struct {
	Kind         kind
	Edit         bool
	Credential   server.Credential // edit: the current state
	Name         string
	Description  string
	Username     string
	Host         string
	Location     string
	ARHost       string
	Locations    []string
	Restricted   bool
	Projects     []string // selected
	AllProjects  []server.Project
	ConfigSealed string
	Preview      []previewEntry
	Problems     []string
	Picked       string
	Image        string
	Test         *testResult
}

type previewEntry struct {
	Key      string // as written in the file
	Registry string // canonical
	Username string
	Invalid  string
}

func (c *Console) addPage(q *req) {
	k, ok := kindByID(q.r.PathValue("kind"))
	if !ok {
		c.errorPage(q.w, q.r, q, http.StatusNotFound, "There is no such kind of registry.")
		return
	}
	f := &formData{Kind: k, Location: "gcr.io"}
	c.renderForm(q, http.StatusOK, f, nil)
}

func (c *Console) renderForm(q *req, status int, f *formData, v *view) {
	if v == nil {
		v = q.view("")
	}
	if f.Edit {
		v.Title = f.Credential.Name
	} else {
		v.Title = "Add " + f.Kind.Title
	}
	f.Locations = gcrLocations
	if f.AllProjects == nil {
		ps, err := c.allProjects(q)
		if err != nil {
			c.fail(q, err)
			return
		}
		f.AllProjects = ps
	}
	v.Data = f
	page := "form"
	if f.Edit {
		page = "credential"
	}
	c.render(q.w, q.r, status, page, v)
}

// readCommon reads the fields every form shares.
func readCommon(r *http.Request, f *formData) {
	f.Name = strings.TrimSpace(r.PostFormValue("name"))
	f.Description = strings.TrimSpace(r.PostFormValue("description"))
	f.Username = strings.TrimSpace(r.PostFormValue("username"))
	f.Host = strings.TrimSpace(r.PostFormValue("host"))
	f.Location = r.PostFormValue("location")
	f.ARHost = strings.TrimSpace(r.PostFormValue("ar_host"))
	f.Restricted = r.PostFormValue("restricted") == "on"
	f.Projects = r.PostForm["projects"]
	f.Image = strings.TrimSpace(r.PostFormValue("image"))
}

func ptr[T any](v T) *T { return &v }

func (c *Console) add(q *req) {
	k, ok := kindByID(q.r.PathValue("kind"))
	if !ok {
		c.errorPage(q.w, q.r, q, http.StatusNotFound, "There is no such kind of registry.")
		return
	}
	f := &formData{Kind: k}
	readCommon(q.r, f)
	v := q.view("")
	in := server.CredentialInput{Name: ptr(f.Name), Restricted: ptr(f.Restricted), Projects: f.Projects}
	if f.Description != "" {
		in.Description = ptr(f.Description)
	}
	// Checks only the form knows about; everything else is the API's.
	switch {
	case k.JSON:
		entry, done := c.readConfig(q, f, v)
		if done {
			return
		}
		if entry != nil {
			in.RegistryURL = ptr(entry.Key)
			in.Username, in.Password = ptr(entry.Username), ptr(entry.Secret)
		}
	case k.Keyfile:
		in.Provider = ptr("gcr")
		switch {
		case f.Location == "gar":
			in.Provider = ptr("gar")
			if f.ARHost == "" {
				v.Fields["ar_host"] = "Enter the Artifact Registry host, e.g. europe-west1-docker.pkg.dev."
			} else {
				in.RegistryURL = ptr(f.ARHost)
			}
		case contains(gcrLocations, f.Location):
			in.RegistryURL = ptr(f.Location)
		default:
			v.Fields["location"] = "Choose a location."
		}
		if kf, msg := readKeyfile(q.r); msg != "" {
			v.Fields["keyfile"] = msg
		} else {
			in.Keyfile = kf
		}
	default:
		in.Provider = ptr(k.Provider)
		if k.AskHost && f.Host != "" {
			in.RegistryURL = ptr(f.Host)
		} else if k.AskHost && !k.HostOpt {
			v.Fields["host"] = "Registry host is required, e.g. registry.example.com or registry.example.com:5000."
		}
		in.Username = ptr(f.Username)
		in.Password = ptr(q.r.PostFormValue("password"))
	}
	if f.Restricted && len(f.Projects) == 0 {
		v.Fields["projects"] = "Choose at least one project, or turn the restriction off."
	}
	if len(v.Fields) > 0 {
		v.Error = "Nothing was saved: correct the fields marked below."
		c.renderForm(q, http.StatusUnprocessableEntity, f, v)
		return
	}
	cr, err := q.as.Create(in)
	if err != nil {
		c.formError(q, f, v, err)
		return
	}
	c.log.Info("console: credential created", "request_id", server.RequestID(q.r), "token_id", q.tok.ID, "credential", cr.ID)
	http.Redirect(q.w, q.r, "/registries/"+url.PathEscape(cr.ID)+"?done=created", http.StatusSeeOther)
}

// readConfig handles the JSON form: parse the pasted (or sealed) config.json,
// show what it holds, and pick the entry to save. done means the page was
// rendered (a preview, or an error).
func (c *Console) readConfig(q *req, f *formData, v *view) (*dockerconfig.AuthEntry, bool) {
	var data []byte
	if text := q.r.PostFormValue("config"); strings.TrimSpace(text) != "" {
		data = []byte(text)
	} else if s := q.r.PostFormValue("config_sealed"); s != "" {
		b, err := c.openValue(s, "config")
		if err != nil {
			v.Fields["config"] = "The pasted config.json could not be read back; paste it again."
		}
		data = b
	}
	if len(data) == 0 {
		if v.Fields["config"] == "" {
			v.Fields["config"] = "Paste the contents of a Docker config.json."
		}
		v.Error = "Nothing was saved: correct the fields marked below."
		c.renderForm(q, http.StatusUnprocessableEntity, f, v)
		return nil, true
	}
	entries, problems, err := dockerconfig.ParseAuths(data)
	if err != nil {
		// The parser's message may quote part of the file (secrets): say
		// what is wrong without it.
		msg := "This is not valid JSON. Paste the whole config.json, from { to }."
		if errors.Is(err, dockerconfig.ErrNotObject) {
			msg = "This JSON is not an object: a config.json looks like {\"auths\": {...}}."
		}
		v.Fields["config"] = msg
		v.Error = "Nothing was saved: correct the fields marked below."
		c.renderForm(q, http.StatusUnprocessableEntity, f, v)
		return nil, true
	}
	sealed, err := c.sealValue(data, "config")
	if err != nil {
		c.fail(q, err)
		return nil, true
	}
	f.ConfigSealed = sealed
	for _, p := range problems {
		f.Problems = append(f.Problems, sentence(p.Error()))
	}
	var valid []dockerconfig.AuthEntry
	for _, e := range entries {
		pe := previewEntry{Key: e.Key, Username: e.Username}
		if key, err := credhelper.NormalizeServerURL(e.Key); err != nil {
			pe.Invalid = "not a registry address"
		} else {
			pe.Registry = key
			valid = append(valid, e)
		}
		f.Preview = append(f.Preview, pe)
	}
	f.Picked = q.r.PostFormValue("pick")
	if f.Picked == "" && len(valid) == 1 {
		f.Picked = valid[0].Key
	}
	if len(valid) == 0 {
		v.Fields["config"] = "This config.json holds no usable registry credentials in \"auths\"."
		v.Error = "Nothing was saved: correct the fields marked below."
		c.renderForm(q, http.StatusUnprocessableEntity, f, v)
		return nil, true
	}
	if q.r.PostFormValue("action") == "preview" {
		c.renderForm(q, http.StatusOK, f, v)
		return nil, true
	}
	for i := range valid {
		if valid[i].Key == f.Picked {
			return &valid[i], false
		}
	}
	v.Fields["pick"] = "Choose which registry of the file to save."
	return nil, false
}

// readKeyfile reads and validates the uploaded keyfile; msg says what is wrong.
func readKeyfile(r *http.Request) ([]byte, string) {
	file, hdr, err := r.FormFile("keyfile")
	if err != nil {
		return nil, "Choose the service account's JSON keyfile to upload."
	}
	defer file.Close()
	if hdr.Size > 64<<10 {
		return nil, "This file is too large to be a service-account keyfile."
	}
	data, err := io.ReadAll(io.LimitReader(file, 64<<10))
	if err != nil {
		return nil, "The keyfile could not be read; choose it again."
	}
	_, compact, err := credhelper.ParseKeyfile(data)
	if err != nil {
		return nil, "This file is " + err.Error() + ". Download a JSON key of the service account (IAM → Service accounts → Keys)."
	}
	return []byte(compact), ""
}

// apiFields maps the API's field names to the form's.
var apiFields = map[string]string{
	"name":                  "name",
	"description":           "description",
	"registryUrl":           "host",
	"provider":              "host",
	"credentials":           "password",
	"credentials.username":  "username",
	"credentials.password":  "password",
	"keyfile":               "keyfile",
	"auths":                 "config",
	"restrictions.projects": "projects",
}

var fieldLabels = map[string]string{
	"name": "Name", "description": "Description", "host": "Registry", "username": "Username",
	"password": "Password", "keyfile": "Keyfile", "config": "config.json", "projects": "Projects",
}

// formError shows an error from the API next to its field.
func (c *Console) formError(q *req, f *formData, v *view, err error) {
	info := server.DescribeError(err)
	switch {
	case info.Internal:
		c.fail(q, err)
		return
	case info.Status == http.StatusConflict:
		v.Fields["name"] = "A credential with this name (" + slugHint(f.Name) + ") already exists: choose another name."
	case len(info.Details) > 0:
		for apiField, msg := range info.Details {
			field, ok := apiFields[apiField]
			if !ok {
				field = "form"
			}
			if f.Kind.Keyfile && field == "password" {
				field = "keyfile"
			}
			if f.Kind.Keyfile && field == "host" {
				field = "location"
				if f.Location == "gar" {
					field = "ar_host"
				}
			}
			if f.Kind.JSON && (field == "host" || field == "username" || field == "password") {
				field = "config"
			}
			v.Fields[field] = fieldMessage(fieldLabels[field], msg)
		}
		if m, ok := v.Fields["form"]; ok {
			delete(v.Fields, "form")
			v.Error = m
		}
	default:
		c.fail(q, err)
		return
	}
	if v.Error == "" {
		v.Error = "Nothing was saved: correct the fields marked below."
	}
	c.renderForm(q, http.StatusUnprocessableEntity, f, v)
}

func slugHint(name string) string { return strings.ToLower(strings.ReplaceAll(name, " ", "-")) }

// fieldMessage turns an API detail ("is required") into a sentence.
func fieldMessage(label, msg string) string {
	for _, verb := range []string{"is ", "must ", "has ", "holds ", "cannot ", "with ", "give ", "unknown "} {
		if strings.HasPrefix(msg, verb) && label != "" {
			if verb == "unknown " {
				return sentence(msg)
			}
			return sentence(label + " " + msg)
		}
	}
	return sentence(msg)
}

// --- one credential: view, change, test, delete ---

func (c *Console) load(q *req) (server.Credential, bool) {
	cr, err := q.as.Describe(q.r.PathValue("id"))
	if err != nil {
		c.fail(q, err)
		return cr, false
	}
	return cr, true
}

func editForm(cr server.Credential) *formData {
	return &formData{
		Kind: kindOfProvider(cr.Provider), Edit: true, Credential: cr, Name: cr.Name,
		Description: cr.Description, Username: cr.Username, Restricted: cr.Restricted, Projects: cr.Projects,
		Image: defaultImage(cr.RegistryURL),
	}
}

// defaultImage pre-fills the test form's image field with the registry.
func defaultImage(key string) string { return imageOn(key, "", "/") }

func (c *Console) credentialPage(q *req) {
	cr, ok := c.load(q)
	if !ok {
		return
	}
	v := q.view("")
	switch q.r.URL.Query().Get("done") {
	case "created":
		v.Notice = "Credentials saved. Test them against an image below."
	case "updated":
		v.Notice = "Changes saved."
	}
	c.renderForm(q, http.StatusOK, editForm(cr), v)
}

func (c *Console) update(q *req) {
	cr, ok := c.load(q)
	if !ok {
		return
	}
	f := editForm(cr)
	readCommon(q.r, f)
	f.Name = cr.Name
	v := q.view("")
	in := server.CredentialInput{Restricted: ptr(f.Restricted), Projects: f.Projects}
	if f.Projects == nil {
		in.Projects = []string{}
	}
	if f.Description != cr.Description {
		in.Description = ptr(f.Description)
	}
	if f.Kind.Keyfile {
		if _, hdr, err := q.r.FormFile("keyfile"); err == nil && hdr.Size > 0 {
			if kf, msg := readKeyfile(q.r); msg != "" {
				v.Fields["keyfile"] = msg
			} else {
				in.Username, in.Password = ptr(credhelper.KeyfileUser), ptr(string(kf))
			}
		}
	} else {
		if f.Username != cr.Username {
			in.Username = ptr(f.Username)
		}
		if p := q.r.PostFormValue("password"); p != "" {
			in.Password = ptr(p)
		}
	}
	if f.Restricted && len(f.Projects) == 0 {
		v.Fields["projects"] = "Choose at least one project, or turn the restriction off."
	}
	if len(v.Fields) > 0 {
		v.Error = "Nothing was saved: correct the fields marked below."
		c.renderForm(q, http.StatusUnprocessableEntity, f, v)
		return
	}
	if _, err := q.as.Update(cr.ID, in); err != nil {
		c.formError(q, f, v, err)
		return
	}
	http.Redirect(q.w, q.r, "/registries/"+url.PathEscape(cr.ID)+"?done=updated", http.StatusSeeOther)
}

type testResult struct {
	OK      bool
	Message string
	Detail  string
}

// test runs what `docker-credential-keyport check IMAGE` runs, with this
// credential: a manifest HEAD through the registry's real auth flow.
func (c *Console) test(q *req) {
	cr, ok := c.load(q)
	if !ok {
		return
	}
	f := editForm(cr)
	f.Image = strings.TrimSpace(q.r.PostFormValue("image"))
	v := q.view("")
	status := http.StatusOK
	opts := c.cfg.Registry
	ref, err := registry.ParseReference(f.Image, opts)
	switch {
	case f.Image == "":
		v.Fields["image"] = "Enter an image this credential should be able to pull, e.g. " + exampleImage(cr.RegistryURL) + "."
	case err != nil:
		v.Fields["image"] = "This is not an image reference, e.g. " + exampleImage(cr.RegistryURL) + "."
	}
	if len(v.Fields) == 0 {
		key, kerr := credhelper.NormalizeServerURL(ref.Context().String())
		if kerr != nil || !contains(credhelper.LookupKeys(key), cr.RegistryURL) {
			v.Fields["image"] = "This image is on " + ref.Context().RegistryStr() + "; these credentials are for " + cr.RegistryURL + "."
		}
	}
	if len(v.Fields) > 0 {
		c.renderForm(q, http.StatusUnprocessableEntity, f, v)
		return
	}
	full, err := q.as.Get(cr.ID) // the secret: admin and reader only, as through the API
	if err != nil {
		c.fail(q, err)
		return
	}
	auth := ggcr.Authenticator(credhelper.Credentials{ServerURL: full.RegistryURL, Username: full.Username, Secret: full.Secret})
	res, err := registry.Check(q.r.Context(), ref, auth, opts)
	if err != nil {
		msg := err.Error()
		var rerr *registry.Error
		if errors.As(err, &rerr) {
			msg = rerr.Error()
		}
		f.Test = &testResult{Message: "Cannot pull " + ref.Name() + ".", Detail: sentence(msg)}
		status = http.StatusOK
	} else {
		f.Test = &testResult{OK: true, Message: "These credentials can pull " + res.Reference + ".", Detail: res.Digest + " (" + res.MediaType + ")"}
	}
	c.log.Info("console: credential tested", "request_id", server.RequestID(q.r), "token_id", q.tok.ID, "credential", cr.ID, "ok", f.Test.OK)
	c.renderForm(q, status, f, v)
}

// exampleImage is an image reference on the registry, for messages.
func exampleImage(key string) string { return imageOn(key, "library/nginx:latest", "/team/app:latest") }

// imageOn is an image reference on registry key: Docker Hub's are written
// without the host, so they take hub; others are key followed by rest.
func imageOn(key, hub, rest string) string {
	if key == credhelper.DockerHub {
		return hub
	}
	return key + rest
}

func (c *Console) deletePage(q *req) {
	cr, ok := c.load(q)
	if !ok {
		return
	}
	v := q.view("Delete " + cr.Name)
	v.Data = cr
	c.render(q.w, q.r, http.StatusOK, "delete", v)
}

func (c *Console) delete(q *req) {
	cr, ok := c.load(q)
	if !ok {
		return
	}
	if q.r.PostFormValue("confirm") != cr.ID {
		v := q.view("Delete " + cr.Name)
		v.Data = cr
		v.Fields["confirm"] = "Type " + cr.ID + " to confirm."
		v.Error = "Nothing was deleted."
		c.render(q.w, q.r, http.StatusUnprocessableEntity, "delete", v)
		return
	}
	if err := q.as.Delete(cr.ID); err != nil {
		c.fail(q, err)
		return
	}
	c.log.Info("console: credential deleted", "request_id", server.RequestID(q.r), "token_id", q.tok.ID, "credential", cr.ID)
	http.Redirect(q.w, q.r, "/registries?done=deleted", http.StatusSeeOther)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
