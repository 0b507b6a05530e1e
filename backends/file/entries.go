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
	if isJSONEntries(data) {
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, err
		}
		return m, nil
	}
	// One copy of the plaintext, cut into substrings: no allocation a field.
	text := string(data)
	err := eachRecord(data, func(r record) {
		m[text[r[0]:r[1]]] = entry{Username: text[r[2]:r[3]], Secret: text[r[4]:r[5]]}
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// lookupEntry finds key's record without building the map a get does not
// need. It still walks every record, so a damaged list is reported the same
// whichever key is asked for, and a repeated key answers its last record,
// as the map would.
func lookupEntry(data []byte, key string) (entry, bool, error) {
	if isJSONEntries(data) {
		m, err := decodeEntries(data)
		e, ok := m[key]
		return e, ok, err
	}
	var found entry
	ok := false
	err := eachRecord(data, func(r record) {
		if string(data[r[0]:r[1]]) == key {
			found = entry{Username: string(data[r[2]:r[3]]), Secret: string(data[r[4]:r[5]])}
			ok = true
		}
	})
	if err != nil {
		return entry{}, false, err
	}
	return found, ok, nil
}

func isJSONEntries(data []byte) bool { return len(data) > 0 && data[0] == '{' }

// record holds the offsets in the entry list of one record's key,
// username and secret: [key start, key end, user start, ..., secret end].
type record [6]int

// eachRecord calls fn for every record of the binary entry list.
func eachRecord(data []byte, fn func(record)) error {
	if len(data) == 0 || data[0] != entriesFormat {
		return errEntries
	}
	at := 1
	field := func() (int, int, bool) {
		n, w := binary.Uvarint(data[at:])
		if w <= 0 || n > uint64(len(data)-at-w) {
			return 0, 0, false
		}
		lo := at + w
		at = lo + int(n)
		return lo, at, true
	}
	for at < len(data) {
		var r record
		var ok1, ok2, ok3 bool
		r[0], r[1], ok1 = field()
		r[2], r[3], ok2 = field()
		r[4], r[5], ok3 = field()
		if !ok1 || !ok2 || !ok3 {
			return errEntries
		}
		fn(r)
	}
	return nil
}
