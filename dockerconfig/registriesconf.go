package dockerconfig

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ContainersAuthHelper is the pseudo-helper that makes containers tools read
// auth.json. It is their default when registries.conf sets no
// credential-helpers, so keyport keeps it after itself to let existing
// `podman login` credentials keep working.
const ContainersAuthHelper = "containers-auth.json"

const credentialHelpersKey = "credential-helpers"

// ErrTOML reports a registries.conf keyport cannot read safely; such a file
// is refused rather than rewritten.
var ErrTOML = errors.New("invalid TOML")

// CredentialHelpers returns the top-level credential-helpers list of a
// registries.conf (containers-registries.conf(5)); ok is false when the key
// is absent, in which case containers use [ContainersAuthHelper].
func CredentialHelpers(data []byte) (helpers []string, ok bool, err error) {
	top, err := scanTopLevel(string(data))
	if err != nil || !top.found {
		return nil, false, err
	}
	arr, err := parseStringArray(string(data), top.valueStart)
	if err != nil {
		return nil, false, err
	}
	return arr.values, true, nil
}

// AddCredentialHelper returns data with helper in the top-level
// credential-helpers list, editing the text so comments, tables and other
// keys stay exactly as they were:
//   - key absent (or an empty list, which containers treat as absent): a line
//     `credential-helpers = ["helper", "containers-auth.json"]` is inserted
//     before the first table header (and the comments directly above it), or
//     appended when there is no table;
//   - list without helper: helper is inserted as the first element, in the
//     list's own layout (single- or multi-line);
//   - helper already listed anywhere: data is returned unchanged, since its
//     position was then chosen by the user.
func AddCredentialHelper(data []byte, helper string) ([]byte, error) {
	if helper == "" || strings.ContainsAny(helper, "\"\\\r\n") {
		return nil, fmt.Errorf("invalid credential helper name %q", helper)
	}
	s := string(data)
	top, err := scanTopLevel(s)
	if err != nil {
		return nil, err
	}
	newList := "[" + tomlQuote(helper) + ", " + tomlQuote(ContainersAuthHelper) + "]"
	if !top.found {
		return []byte(insertKeyLine(s, top, credentialHelpersKey+" = "+newList)), nil
	}
	arr, err := parseStringArray(s, top.valueStart)
	if err != nil {
		return nil, err
	}
	switch {
	case slices.Contains(arr.values, helper):
		return data, nil
	case len(arr.values) == 0:
		return []byte(s[:top.valueStart] + newList + s[arr.end:]), nil
	default:
		sep := " "
		if nl := strings.LastIndexByte(s[:arr.first], '\n'); nl >= top.valueStart {
			sep = newline(s) + s[nl+1:arr.first] // the first element's indentation
		}
		return []byte(s[:arr.first] + tomlQuote(helper) + "," + sep + s[arr.first:]), nil
	}
}

// insertKeyLine adds a top-level key line where scanTopLevel said it belongs.
func insertKeyLine(s string, top topLevel, line string) string {
	nl := newline(s)
	if top.insertAt >= len(s) {
		if s != "" && !strings.HasSuffix(s, "\n") {
			s += nl
		}
		return s + line + nl
	}
	return s[:top.insertAt] + line + nl + nl + s[top.insertAt:]
}

// newline returns the file's line ending, so an edit does not mix them.
func newline(s string) string {
	if strings.Contains(s, "\r\n") {
		return "\r\n"
	}
	return "\n"
}

// tomlQuote writes s as a TOML basic string.
func tomlQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\u%04X", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// topLevel is what scanTopLevel learns about the part of a TOML file before
// its first table header.
type topLevel struct {
	found      bool // credential-helpers is set at top level
	valueStart int  // offset of its value
	insertAt   int  // where a new top-level key line goes
}

// scanTopLevel walks the top-level key/value lines of a TOML document, up to
// the first [table] or [[array-table]] header. It understands enough TOML
// (strings of all four kinds, multi-line arrays, inline tables, comments) to
// never mistake a '[' inside a value for a header.
func scanTopLevel(s string) (topLevel, error) {
	sc := &tomlScanner{s: s}
	top := topLevel{insertAt: len(s)}
	commentRun := -1 // start of the comment lines directly above the current line
	for sc.i < len(s) {
		lineStart := sc.i
		sc.skipSpace()
		switch {
		case sc.atEOL():
			sc.skipEOL()
			commentRun = -1
		case sc.peek() == '#':
			if commentRun < 0 {
				commentRun = lineStart
			}
			sc.skipComment()
			sc.skipEOL()
		case sc.peek() == '[':
			top.insertAt = lineStart
			if commentRun >= 0 {
				top.insertAt = commentRun
			}
			return top, nil
		default:
			commentRun = -1
			if err := sc.keyValueLine(&top); err != nil {
				return topLevel{}, err
			}
		}
	}
	return top, nil
}

// keyValueLine reads `key = value [# comment]` and its line end, noting
// where the value of credential-helpers starts.
func (sc *tomlScanner) keyValueLine(top *topLevel) error {
	key, err := sc.key()
	if err != nil {
		return err
	}
	sc.skipSpace()
	if sc.peek() != '=' {
		return sc.errorf("expected '=' after a key")
	}
	sc.i++
	sc.skipSpace()
	start := sc.i
	if err := sc.value(); err != nil {
		return err
	}
	if len(key) == 1 && key[0] == credentialHelpersKey {
		if top.found {
			return sc.errorf("%s is set twice", credentialHelpersKey)
		}
		top.found, top.valueStart = true, start
	}
	sc.skipSpace()
	if sc.peek() == '#' {
		sc.skipComment()
	}
	if !sc.atEOL() {
		return sc.errorf("unexpected text after a value")
	}
	sc.skipEOL()
	return nil
}

// stringArray is a parsed array of strings and where its parts are.
type stringArray struct {
	values []string
	first  int // offset of the first element (valid when len(values) > 0)
	end    int // offset just after the closing ']'
}

// parseStringArray reads the array of strings starting at offset i.
func parseStringArray(s string, i int) (stringArray, error) {
	sc := &tomlScanner{s: s, i: i}
	if sc.peek() != '[' {
		return stringArray{}, sc.errorf("%s is not an array of strings", credentialHelpersKey)
	}
	sc.i++
	var arr stringArray
	for {
		sc.skipBlank()
		if sc.peek() == ']' {
			sc.i++
			arr.end = sc.i
			return arr, nil
		}
		if len(arr.values) == 0 {
			arr.first = sc.i
		}
		str, err := sc.singleLineString()
		if err != nil {
			return stringArray{}, sc.errorf("%s is not an array of strings", credentialHelpersKey)
		}
		arr.values = append(arr.values, str)
		sc.skipBlank()
		switch sc.peek() {
		case ',':
			sc.i++
		case ']':
		default:
			return stringArray{}, sc.errorf("expected ',' or ']' in %s", credentialHelpersKey)
		}
	}
}

// tomlScanner is a cursor over a TOML document.
type tomlScanner struct {
	s string
	i int
}

func (sc *tomlScanner) errorf(format string, args ...any) error {
	line := strings.Count(sc.s[:min(sc.i, len(sc.s))], "\n") + 1
	return fmt.Errorf("line %d: %s: %w", line, fmt.Sprintf(format, args...), ErrTOML)
}

func (sc *tomlScanner) peek() byte {
	if sc.i < len(sc.s) {
		return sc.s[sc.i]
	}
	return 0
}

func (sc *tomlScanner) atEOL() bool {
	return sc.i >= len(sc.s) || sc.s[sc.i] == '\n' || strings.HasPrefix(sc.s[sc.i:], "\r\n")
}

func (sc *tomlScanner) skipEOL() {
	if strings.HasPrefix(sc.s[sc.i:], "\r\n") {
		sc.i += 2
	} else if sc.i < len(sc.s) {
		sc.i++
	}
}

func (sc *tomlScanner) skipSpace() {
	for sc.i < len(sc.s) && (sc.s[sc.i] == ' ' || sc.s[sc.i] == '\t') {
		sc.i++
	}
}

func (sc *tomlScanner) skipComment() {
	for !sc.atEOL() {
		sc.i++
	}
}

// skipBlank skips whitespace, newlines and comments: what may separate the
// elements of a multi-line array.
func (sc *tomlScanner) skipBlank() {
	for sc.i < len(sc.s) {
		switch sc.s[sc.i] {
		case ' ', '\t', '\r', '\n':
			sc.i++
		case '#':
			sc.skipComment()
		default:
			return
		}
	}
}

// key reads a possibly dotted key and returns its parts.
func (sc *tomlScanner) key() ([]string, error) {
	var parts []string
	for {
		part, err := sc.simpleKey()
		if err != nil {
			return nil, err
		}
		parts = append(parts, part)
		sc.skipSpace()
		if sc.peek() != '.' {
			return parts, nil
		}
		sc.i++
		sc.skipSpace()
	}
}

func (sc *tomlScanner) simpleKey() (string, error) {
	if c := sc.peek(); c == '"' || c == '\'' {
		return sc.singleLineString()
	}
	start := sc.i
	for sc.i < len(sc.s) && isBareKeyChar(sc.s[sc.i]) {
		sc.i++
	}
	if sc.i == start {
		return "", sc.errorf("expected a key")
	}
	return sc.s[start:sc.i], nil
}

func isBareKeyChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// value skips one TOML value of any kind.
func (sc *tomlScanner) value() error {
	switch c := sc.peek(); {
	case c == '"' || c == '\'':
		return sc.skipString()
	case c == '[':
		return sc.skipArray()
	case c == '{':
		return sc.skipInlineTable()
	default:
		return sc.skipScalar()
	}
}

func (sc *tomlScanner) skipArray() error {
	// Arrays may span lines and hold comments; skipBlank allows both.
	return sc.skipSeq(']', "an array", sc.skipBlank, sc.value)
}

func (sc *tomlScanner) skipInlineTable() error {
	// An inline table stays on one line.
	return sc.skipSeq('}', "an inline table", sc.skipSpace, func() error {
		if _, err := sc.key(); err != nil {
			return err
		}
		sc.skipSpace()
		if sc.peek() != '=' {
			return sc.errorf("expected '=' in an inline table")
		}
		sc.i++
		sc.skipSpace()
		return sc.value()
	})
}

// skipSeq skips an array or inline table from its opening bracket: items
// separated by commas (a trailing one allowed) up to end, with skip
// between the tokens.
func (sc *tomlScanner) skipSeq(end byte, what string, skip func(), item func() error) error {
	sc.i++ // the opening bracket
	for {
		skip()
		if sc.peek() == end {
			sc.i++
			return nil
		}
		if err := item(); err != nil {
			return err
		}
		skip()
		switch sc.peek() {
		case ',':
			sc.i++
		case end:
		default:
			return sc.errorf("expected ',' or '%c' in %s", end, what)
		}
	}
}

// skipScalar skips a number, boolean or date-time. A date-time may have a
// space between date and time, so that one space is allowed after a date.
func (sc *tomlScanner) skipScalar() error {
	start := sc.i
	for sc.i < len(sc.s) && !strings.ContainsRune(" \t\r\n,]}#", rune(sc.s[sc.i])) {
		sc.i++
	}
	if sc.i == start {
		return sc.errorf("expected a value")
	}
	word := sc.s[start:sc.i]
	if len(word) == 10 && word[4] == '-' && word[7] == '-' && sc.peek() == ' ' &&
		sc.i+1 < len(sc.s) && sc.s[sc.i+1] >= '0' && sc.s[sc.i+1] <= '9' {
		sc.i++
		return sc.skipScalar()
	}
	return nil
}

// skipString skips a string of any of the four TOML kinds.
func (sc *tomlScanner) skipString() error {
	rest := sc.s[sc.i:]
	switch {
	case strings.HasPrefix(rest, `"""`):
		return sc.skipMultiline(`"""`, true)
	case strings.HasPrefix(rest, `'''`):
		return sc.skipMultiline(`'''`, false)
	default:
		_, err := sc.singleLineString()
		return err
	}
}

// skipMultiline skips a multi-line string; up to two extra quotes may end its content.
func (sc *tomlScanner) skipMultiline(delim string, escapes bool) error {
	sc.i += 3
	for sc.i < len(sc.s) {
		if escapes && sc.s[sc.i] == '\\' {
			sc.i += 2
			continue
		}
		if strings.HasPrefix(sc.s[sc.i:], delim) {
			sc.i += 3
			for n := 0; n < 2 && sc.peek() == delim[0]; n++ {
				sc.i++
			}
			return nil
		}
		sc.i++
	}
	return sc.errorf("unterminated multi-line string")
}

// singleLineString reads a basic ("...") or literal ('...') string and
// returns its decoded value.
func (sc *tomlScanner) singleLineString() (string, error) {
	quote := sc.peek()
	if quote != '"' && quote != '\'' {
		return "", sc.errorf("expected a string")
	}
	start := sc.i
	sc.i++
	for sc.i < len(sc.s) && sc.s[sc.i] != '\n' {
		c := sc.s[sc.i]
		switch {
		case c == '\\' && quote == '"':
			sc.i += 2
		case c == quote:
			sc.i++
			return sc.decodeString(sc.s[start:sc.i])
		default:
			sc.i++
		}
	}
	return "", sc.errorf("unterminated string")
}

// decodeString decodes a quoted single-line string. TOML basic-string escapes
// are a subset of Go's except \U and \u, which strconv handles the same way.
func (sc *tomlScanner) decodeString(quoted string) (string, error) {
	if quoted[0] == '\'' {
		return quoted[1 : len(quoted)-1], nil
	}
	s, err := strconv.Unquote(quoted)
	if err != nil {
		return "", sc.errorf("invalid escape in a string")
	}
	return s, nil
}
