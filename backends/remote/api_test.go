package remote_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/keyport/keyport/backends/remote"
)

// TestReplyErrorRoundTrip: what the store branches on survives the trip
// through `keyport api` (JSON between processes).
func TestReplyErrorRoundTrip(t *testing.T) {
	retry := time.Unix(1900000000, 0).UTC()
	for _, tc := range []struct {
		name        string
		err         error
		rejected    bool
		unavailable bool
		status      int
	}{
		{"401", &remote.APIError{Status: 401, Message: "bad token"}, true, false, 401},
		{"429", &remote.APIError{Status: 429, RetryAt: retry}, false, true, 429},
		{"404", &remote.APIError{Status: 404}, false, false, 404},
		{"down", fmt.Errorf("%w: dial tcp: connection refused", remote.ErrUnavailable), false, true, 0},
		{"other", errors.New("no token on stdin"), false, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, _ := json.Marshal(remote.Reply{Error: remote.NewReplyError(tc.err)})
			var r remote.Reply
			if err := json.Unmarshal(data, &r); err != nil || r.Error == nil {
				t.Fatalf("%s: %v", data, err)
			}
			got := r.Error.Err()
			if errors.Is(got, remote.ErrTokenRejected) != tc.rejected || errors.Is(got, remote.ErrUnavailable) != tc.unavailable {
				t.Fatalf("%v: rejected %v unavailable %v", got, errors.Is(got, remote.ErrTokenRejected), errors.Is(got, remote.ErrUnavailable))
			}
			var ae *remote.APIError
			if tc.status != 0 && (!errors.As(got, &ae) || ae.Status != tc.status || !ae.RetryAt.Equal(tc.err.(*remote.APIError).RetryAt)) {
				t.Fatalf("%#v, want status %d and the same RetryAt", got, tc.status)
			}
			if got.Error() != tc.err.Error() {
				t.Fatalf("message %q, want %q", got.Error(), tc.err.Error())
			}
		})
	}
}
