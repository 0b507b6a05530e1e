package file

import (
	"encoding/binary"
	"encoding/json"
	"errors"
)

// The sealed plaintext is a list of (key, username, secret) records, each
// field a uvarint length and its bytes, after a one-byte format mark. It is
// decoded on every get, so it avoids encoding/json's reflection; stores
// written before it hold a JSON object, which still opens.
const entriesFormat = 0x01

var errEntries = errors.New("damaged entry list")

func encodeEntries(m map[string]entry) []byte {
	out := []byte{entriesFormat}
	for k, e := range m {
		for _, f := range []string{k, e.Username, e.Secret} {
			out = binary.AppendUvarint(out, uint64(len(f)))
			out = append(out, f...)
		}
	}
	return out
}

func decodeEntries(data []byte) (map[string]entry, error) {
	m := map[string]entry{}
	if len(data) > 0 && data[0] == '{' { // the JSON form
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, err
		}
		return m, nil
	}
	if len(data) == 0 || data[0] != entriesFormat {
		return nil, errEntries
	}
	rest := data[1:]
	field := func() (string, bool) {
		n, w := binary.Uvarint(rest)
		if w <= 0 || n > uint64(len(rest)-w) {
			return "", false
		}
		s := string(rest[w : w+int(n)])
		rest = rest[w+int(n):]
		return s, true
	}
	for len(rest) > 0 {
		k, ok1 := field()
		u, ok2 := field()
		sec, ok3 := field()
		if !ok1 || !ok2 || !ok3 {
			return nil, errEntries
		}
		m[k] = entry{Username: u, Secret: sec}
	}
	return m, nil
}
