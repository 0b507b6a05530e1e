package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// apiError is an error the client is told about, in the account API's shape.
// Anything else a handler returns is logged and answered with a bare 500.
type apiError struct {
	Status  int
	Message string
	Details map[string]string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s", e.Status, e.Message) }

func errorf(status int, format string, args ...any) *apiError {
	return &apiError{Status: status, Message: fmt.Sprintf(format, args...)}
}

// badFields is a 400 naming what is wrong with each field of a body.
func badFields(details map[string]string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Message: "invalid request body", Details: details}
}

type errorBody struct {
	Error errorJSON `json:"error"`
}

type errorJSON struct {
	Status  int               `json:"status"`
	Message string            `json:"message"`
	ID      string            `json:"id"`
	Details map[string]string `json:"details,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"status":500,"message":"internal error"}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, requestID string, e *apiError) {
	writeJSON(w, e.Status, errorBody{Error: errorJSON{Status: e.Status, Message: e.Message, ID: requestID, Details: e.Details}})
}

// asAPIError maps err to what the client sees; internal reports whether it is
// a server fault whose cause must be logged instead.
func asAPIError(err error) (e *apiError, internal bool) {
	if errors.As(err, &e) {
		return e, false
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return errorf(http.StatusRequestEntityTooLarge, "request body is larger than %d bytes", tooBig.Limit), false
	}
	return errorf(http.StatusInternalServerError, "internal error"), true
}
