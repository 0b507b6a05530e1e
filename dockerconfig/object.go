package dockerconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// ErrNotObject reports a document (or a member that must be an object) that
// is valid JSON but not a JSON object.
var ErrNotObject = errors.New("not a JSON object")

// SyntaxError reports where a document stops being valid JSON. Its message
// gives only the position: config files hold secrets, so it never quotes the
// text around the error.
type SyntaxError struct {
	Line, Column int
	Err          error // the encoding/json error, for errors.As
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at line %d, column %d", e.Line, e.Column)
}

func (e *SyntaxError) Unwrap() error { return e.Err }

// member is one "key": value pair of an Object, kept as written.
type member struct {
	rawKey []byte          // the key exactly as in the input, quotes included
	key    string          // the decoded key, for lookups
	value  json.RawMessage // the value exactly as in the input
}

// Object is a JSON object kept as an ordered list of raw members. It exists
// because round-tripping a config file through a struct or a map would drop
// keys keyport does not know and reorder the rest; Object only changes the
// members it is asked to change.
//
// Duplicate keys are kept as written. Get returns the last one, as
// encoding/json (and so docker) would read it; Set and Delete act on all of
// them.
type Object struct {
	members []member
}

// ParseObject parses a JSON object. Empty or whitespace-only input is an
// empty object, so a missing config file can be edited like an empty one.
// Invalid JSON gives a *SyntaxError; valid JSON that is not an object gives
// ErrNotObject.
func ParseObject(data []byte) (*Object, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return &Object{}, nil
	}
	if err := checkObject(data); err != nil {
		return nil, err
	}
	return decodeMembers(data)
}

// checkObject validates data up front so that the member decoder below only
// ever sees a well-formed object and errors carry a position. It decodes into
// a RawMessage, not into values, so huge numbers and the like stay legal.
func checkObject(data []byte) error {
	var raw json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line, col := position(data, se.Offset)
			return &SyntaxError{Line: line, Column: col, Err: err}
		}
		return fmt.Errorf("invalid JSON: %w", err)
	}
	if kind := kindOf(raw); kind != "an object" {
		return fmt.Errorf("top level is %s: %w", kind, ErrNotObject)
	}
	return nil
}

// decodeMembers walks a valid JSON object token by token, recording each key
// and value as raw bytes.
func decodeMembers(data []byte) (*Object, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil { // the opening '{'
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	obj := &Object{}
	for dec.More() {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("invalid JSON: %w", err)
		}
		key, _ := tok.(string)
		raw := bytes.TrimLeft(data[start:dec.InputOffset()], " \t\r\n,")
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, fmt.Errorf("invalid JSON: %w", err)
		}
		obj.members = append(obj.members, member{rawKey: bytes.Clone(raw), key: key, value: value})
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("invalid JSON: data after the top-level object")
	}
	return obj, nil
}

// position turns a byte offset into a 1-based line and column.
func position(data []byte, offset int64) (line, col int) {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	before := data[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	col = len(before) - bytes.LastIndexByte(before, '\n')
	return line, col
}

// kindOf names the kind of a valid JSON value from its first byte.
func kindOf(raw json.RawMessage) string {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 {
		return "empty"
	}
	switch trimmed[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

// Keys returns the decoded keys in document order, duplicates included.
func (o *Object) Keys() []string {
	keys := make([]string, len(o.members))
	for i, m := range o.members {
		keys[i] = m.key
	}
	return keys
}

// Len is the number of members, duplicates included.
func (o *Object) Len() int { return len(o.members) }

// Get returns the raw value of key (the last one if the key is repeated).
func (o *Object) Get(key string) (json.RawMessage, bool) {
	for i := len(o.members) - 1; i >= 0; i-- {
		if o.members[i].key == key {
			return o.members[i].value, true
		}
	}
	return nil, false
}

// Set replaces the value of key in place, keeping its position (repeats of
// the key are dropped), or appends key at the end. value must be valid JSON
// and key valid UTF-8 (JSON could not store it as given).
func (o *Object) Set(key string, value json.RawMessage) error {
	if !utf8.ValidString(key) {
		return fmt.Errorf("key %q is not valid UTF-8", key)
	}
	if !json.Valid(value) {
		return fmt.Errorf("value for %q is not valid JSON", key)
	}
	value = bytes.Clone(value)
	for i := range o.members {
		if o.members[i].key == key {
			o.members[i].value = value
			o.deleteFrom(i+1, key)
			return nil
		}
	}
	rawKey, err := marshal(key)
	if err != nil {
		return err
	}
	o.members = append(o.members, member{rawKey: rawKey, key: key, value: value})
	return nil
}

// SetString sets key to the JSON string s.
func (o *Object) SetString(key, s string) error {
	raw, err := marshal(s)
	if err != nil {
		return err
	}
	return o.Set(key, raw)
}

// Delete removes every member named key and reports whether there was one.
func (o *Object) Delete(key string) bool {
	n := len(o.members)
	o.deleteFrom(0, key)
	return len(o.members) != n
}

func (o *Object) deleteFrom(start int, key string) {
	kept := o.members[:start]
	for _, m := range o.members[start:] {
		if m.key != key {
			kept = append(kept, m)
		}
	}
	clear(o.members[len(kept):])
	o.members = kept
}

// Compact returns the object as compact JSON, members in order, keys and
// values as written.
func (o *Object) Compact() []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o.members {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(m.rawKey)
		b.WriteByte(':')
		_ = json.Compact(&b, m.value) // values were validated when stored
	}
	b.WriteByte('}')
	return b.Bytes()
}

// Indent returns the object indented with tabs and ending with a newline,
// the way docker writes config.json, so a file keyport edits looks like one
// docker wrote. Indentation changes whitespace only; strings, numbers and
// escapes stay byte-for-byte as they were.
func (o *Object) Indent() []byte {
	var b bytes.Buffer
	_ = json.Indent(&b, o.Compact(), "", "\t") // Compact output is valid JSON
	b.WriteByte('\n')
	return b.Bytes()
}

// marshal encodes v without HTML escaping, so names like "<token>" stay readable.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encoding JSON: %w", err)
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}
