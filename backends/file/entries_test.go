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

func TestLookupEntry(t *testing.T) {
	list := encodeEntries(map[string]entry{"ghcr.io": {"octo", "ghp_x"}, "docker.io": {"u", "p"}, "gcr.io": {"", ""}})
	json := []byte(`{"ghcr.io":{"u":"octo","s":"ghp_x"}}`)
	damaged := append(append([]byte{}, list...), 9, 'x')
	tests := []struct {
		name   string
		data   []byte
		key    string
		want   entry
		found  bool
		broken bool
	}{
		{"found", list, "docker.io", entry{"u", "p"}, true, false},
		{"found, empty fields", list, "gcr.io", entry{}, true, false},
		{"absent", list, "quay.io", entry{}, false, false},
		{"a prefix of a key is not the key", list, "ghcr", entry{}, false, false},
		{"JSON form", json, "ghcr.io", entry{"octo", "ghp_x"}, true, false},
		{"damaged after the record asked for", damaged, "ghcr.io", entry{}, false, true},
		{"not an entry list", []byte{0x02}, "ghcr.io", entry{}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, found, err := lookupEntry(tt.data, tt.key)
			if (err != nil) != tt.broken || got != tt.want || found != tt.found {
				t.Fatalf("lookupEntry(%q) = %v, %v, %v; want %v, %v, broken %v", tt.key, got, found, err, tt.want, tt.found, tt.broken)
			}
		})
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
		// A get answers what the map holds, for every key.
		for k, want := range m {
			if got, ok, err := lookupEntry(data, k); err != nil || !ok || got != want {
				t.Fatalf("lookupEntry(%q) = %v, %v, %v; the map holds %v", k, got, ok, err, want)
			}
		}
	})
}
