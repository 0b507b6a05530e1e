package server

import (
	"encoding/base64"
	"net/http"
	"strconv"

	"github.com/keyport/keyport/server/storage"
)

const (
	defaultPerPage = 50
	maxPerPage     = 100
)

// paginationJSON sits at the top level of list responses, beside "data".
type paginationJSON struct {
	HasNextPage bool   `json:"hasNextPage"`
	Cursor      string `json:"cursor,omitempty"`
	Count       int    `json:"count"`
}

// parsePage reads per_page, page and cursor. A cursor (opaque to clients:
// the last id of the previous page) takes precedence over page, so a client
// following cursors may leave a page parameter in place.
func parsePage(r *http.Request) (storage.Page, error) {
	q := r.URL.Query()
	details := map[string]string{}
	page := storage.Page{Limit: defaultPerPage}
	if v := q.Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPerPage {
			details["per_page"] = "must be a number from 1 to 100"
		} else {
			page.Limit = n
		}
	}
	if v := q.Get("cursor"); v != "" {
		if after, ok := decodeCursor(v); !ok {
			details["cursor"] = "is not a cursor this server returned"
		} else {
			page.After = after
		}
	} else if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1_000_000 {
			details["page"] = "must be a number from 1"
		} else {
			page.Offset = (n - 1) * page.Limit
		}
	}
	if len(details) > 0 {
		return page, &apiError{Status: http.StatusBadRequest, Message: "invalid query parameters", Details: details}
	}
	return page, nil
}

// fetchPage asks for one row more than the page holds to learn whether
// another page follows without counting the whole table.
func fetchPage(p storage.Page) storage.Page {
	p.Limit++
	return p
}

// pageResult trims the extra row and builds the pagination object; lastID
// gives the id of a row.
func pageResult(n int, p storage.Page, lastID func(i int) string) (keep int, pj paginationJSON) {
	keep = n
	if n > p.Limit {
		keep = p.Limit
		pj.HasNextPage = true
		pj.Cursor = base64.RawURLEncoding.EncodeToString([]byte(lastID(keep - 1)))
	}
	pj.Count = keep
	return keep, pj
}

// decodeCursor reads a cursor pageResult made.
func decodeCursor(v string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil || !validID(string(b)) {
		return "", false
	}
	return string(b), true
}
