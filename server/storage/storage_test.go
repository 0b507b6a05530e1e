package storage_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyport/keyport/server/storage"
	"github.com/keyport/keyport/server/testdb"
)

// TestConcurrentMigrate: serve replicas and `token create` may all start on
// a new database at once; they must agree on one schema without failing.
func TestConcurrentMigrate(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			db := testdb.New(t, kind)
			ctx := context.Background()
			var wg sync.WaitGroup
			errs := make(chan error, 4)
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					st, err := storage.Open(ctx, db.DSN)
					if err != nil {
						errs <- err
						return
					}
					defer st.Close()
					errs <- st.Migrate(ctx)
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			st, err := storage.Open(ctx, db.DSN)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			now := time.Now()
			if err := st.CreateProject(ctx, storage.Project{TeamID: "t", ID: "p", Name: "p", CreatedAt: now}); err != nil {
				t.Fatal(err)
			}
			if err := st.CreateProject(ctx, storage.Project{TeamID: "t", ID: "p", Name: "p", CreatedAt: now}); !errors.Is(err, storage.ErrConflict) {
				t.Fatalf("duplicate project: %v", err)
			}
			c := storage.Credential{TeamID: "t", ID: "c", Name: "c", Provider: "custom", RegistryURL: "r", Username: "u",
				SealedSecret: []byte{1, 2, 3}, Restricted: true, Projects: []string{"p", "p"}, CreatedAt: now, UpdatedAt: now}
			if err := st.CreateCredential(ctx, c); err != nil {
				t.Fatal(err)
			}
			got, err := st.GetCredential(ctx, "t", "c")
			if err != nil || len(got.Projects) != 1 || !got.CreatedAt.Equal(now.Truncate(time.Microsecond)) {
				t.Fatalf("round trip: %+v %v", got, err)
			}
			if _, err := st.GetCredential(ctx, "other-team", "c"); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("another team's credential: %v", err)
			}
		})
	}
}

func TestOpenRejectsUnknownDSN(t *testing.T) {
	_, err := storage.Open(context.Background(), "mysql://user:hunter2@host/db")
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("err = %v", err)
	}
}

// TestResealAllIsAllOrNothing: a failure on the last value leaves every
// earlier one as it was; a run that succeeds rewrites them all.
func TestResealAllIsAllOrNothing(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st, err := storage.OpenMigrated(ctx, testdb.New(t, kind).DSN)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			now := time.Now()
			for _, id := range []string{"a", "b", "c"} {
				c := storage.Credential{TeamID: "t", ID: id, Name: id, Provider: "custom", RegistryURL: "r", Username: "u",
					SealedSecret: []byte("old-" + id), CreatedAt: now, UpdatedAt: now}
				if err := st.CreateCredential(ctx, c); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := st.SetMetaIfAbsent(ctx, "check", []byte("old-check")); err != nil {
				t.Fatal(err)
			}
			boom := errors.New("boom")
			_, err = st.ResealAll(ctx, []string{"check", "absent"}, func(v storage.SealedValue) ([]byte, error) {
				if v.ID == "c" {
					return nil, boom
				}
				return append([]byte("new-"), v.Sealed...), nil
			})
			if !errors.Is(err, boom) {
				t.Fatalf("ResealAll = %v, want the callback's error", err)
			}
			for _, id := range []string{"a", "b", "c"} {
				if c, _ := st.GetCredential(ctx, "t", id); string(c.SealedSecret) != "old-"+id {
					t.Fatalf("after a failed run %s holds %q", id, c.SealedSecret)
				}
			}
			var seen []string
			n, err := st.ResealAll(ctx, []string{"check", "absent"}, func(v storage.SealedValue) ([]byte, error) {
				seen = append(seen, v.MetaKey+v.ID)
				return append([]byte("new-"), v.Sealed...), nil
			})
			if err != nil || n != 4 || strings.Join(seen, ",") != "check,a,b,c" {
				t.Fatalf("ResealAll = %d, %v, saw %v; want 4 values, the meta value first", n, err, seen)
			}
			for _, id := range []string{"a", "b", "c"} {
				if c, _ := st.GetCredential(ctx, "t", id); string(c.SealedSecret) != "new-old-"+id {
					t.Fatalf("%s holds %q", id, c.SealedSecret)
				}
			}
			if v, _ := st.SetMetaIfAbsent(ctx, "check", []byte("unused")); string(v) != "new-old-check" {
				t.Fatalf("meta value %q", v)
			}
		})
	}
}
