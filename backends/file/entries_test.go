package file

import (
	"reflect"
	"strings"
	"testing"
)

func TestEntriesRoundTrip(t *testing.T) {
	for _, m := range []map[string]entry{
		{},
		{"ghcr.io": {"octo", "ghp_x"}},
		{"docker.io": {"ünï", "pa:ss\"\n\x00"}, "gcr.io": {"_json_key", strings.Repeat("k", 3000)}, "e.io": {"", ""}},
	} {
		got, err := decodeEntries(encodeEntries(m))
		if err != nil || !reflect.DeepEqual(got, m) {
			t.Fatalf("round trip of %v = %v, %v", m, got, err)
		}
	}
	// Stores sealed before the binary form hold JSON.
	got, err := decodeEntries([]byte(`{"ghcr.io":{"u":"octo","s":"ghp_x"}}`))
	if err != nil || got["ghcr.io"] != (entry{"octo", "ghp_x"}) {
		t.Fatalf("JSON form = %v, %v", got, err)
	}
	for _, bad := range [][]byte{nil, {0x02}, {entriesFormat, 5, 'a'}, {entriesFormat, 1, 'a', 1, 'b'}, {entriesFormat, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}} {
		if _, err := decodeEntries(bad); err == nil {
			t.Errorf("decodeEntries(%q) accepted damaged data", bad)
		}
	}
}

func FuzzDecodeEntries(f *testing.F) {
	f.Add(encodeEntries(map[string]entry{"ghcr.io": {"octo", "ghp_x"}}))
	f.Add([]byte(`{"a":{"u":"b","s":"c"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decodeEntries(data)
		if err != nil {
			return
		}
		again, err := decodeEntries(encodeEntries(m))
		if err != nil || !reflect.DeepEqual(again, m) {
			t.Fatalf("re-encoding %v gives %v, %v", m, again, err)
		}
	})
}
