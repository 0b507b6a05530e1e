package server_test

import (
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/keyport/keyport/server"
	"github.com/keyport/keyport/server/testdb"
)

// benchClient keeps enough idle connections for parallel benchmarks; the
// default two per host would make most requests open a new connection.
var benchClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxIdleConns: 256}}

// seedBench makes 50 credentials, half restricted to project "bench", and
// returns a reader token bound to it (so every request runs the
// restriction check) and the id of a restricted credential.
func seedBench(b *testing.B, kind string) (*env, string, string) {
	e := newEnv(b, kind, func(c *server.Config) { c.RateLimit = 0; c.Logger = nil })
	e.createProject("bench")
	for i := range 50 {
		var projects []string
		if i%2 == 0 {
			projects = []string{"bench"}
		}
		e.createCredential(fmt.Sprintf("cred%02d", i), fmt.Sprintf("password-%d", i), projects)
	}
	return e, e.token("reader", "bench"), "cred10"
}

func benchGet(b *testing.B, url, token string) {
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("GET", url, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			res, err := benchClient.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				b.Errorf("status %d", res.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkGetCredential measures GET /v1/integrations/registries/{id}
// (authenticate, load, check restriction, decrypt) over loopback HTTP.
func BenchmarkGetCredential(b *testing.B) {
	for _, kind := range testdb.Kinds {
		b.Run(kind, func(b *testing.B) {
			e, tok, id := seedBench(b, kind)
			benchGet(b, e.url+"/v1/integrations/registries/"+id, tok)
		})
	}
}

// BenchmarkListByProject measures the list a runner of one project makes.
func BenchmarkListByProject(b *testing.B) {
	for _, kind := range testdb.Kinds {
		b.Run(kind, func(b *testing.B) {
			e, tok, _ := seedBench(b, kind)
			benchGet(b, e.url+"/v1/integrations/registries?project=bench", tok)
		})
	}
}
