package dockerconfig

import (
	"encoding/json"
	"fmt"
	"strings"
)

// contextLines is how many unchanged lines surround each hunk, as in diff -u.
const contextLines = 3

// maxDiffCells bounds the LCS table; config files are small, and beyond this
// the diff falls back to "everything removed, everything added".
const maxDiffCells = 4 << 20

// secretKeys are the members whose string values are credentials.
var secretKeys = []string{"auth", "password", "identitytoken", "registrytoken"}

// RedactSecrets masks the string values of "auth", "password",
// "identitytoken" and "registrytoken" members (any case, escapes in the name
// decoded as JSON decoders do) so a diff of a config.json can be shown on a
// terminal or in CI logs. It follows JSON string tokens rather than building
// a document, which keeps regexp out of the helper (it links this package
// for its atomic writes); it expects valid JSON, as every caller has checked
// before diffing.
func RedactSecrets(data []byte) []byte {
	var out []byte
	copied := 0 // data[:copied] is already in out
	for i := 0; i < len(data); {
		if data[i] != '"' {
			i++
			continue
		}
		keyEnd := stringEnd(data, i)
		if keyEnd < 0 {
			break
		}
		j := skipSpace(data, keyEnd)
		if j >= len(data) || data[j] != ':' || !isSecretKey(data[i:keyEnd]) {
			i = keyEnd
			continue
		}
		v := skipSpace(data, j+1)
		if v >= len(data) || data[v] != '"' {
			i = v
			continue
		}
		vEnd := stringEnd(data, v)
		if vEnd < 0 {
			vEnd = len(data) // an unterminated value is masked to the end
		}
		out = append(out, data[copied:v]...)
		out = append(out, `"<redacted>"`...)
		copied, i = vEnd, vEnd
	}
	if out == nil {
		return data
	}
	return append(out, data[copied:]...)
}

// stringEnd returns the index just past the JSON string starting at
// data[start] (a '"'), or -1 when it is not closed.
func stringEnd(data []byte, start int) int {
	for i := start + 1; i < len(data); i++ {
		switch data[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// isSecretKey says whether the quoted JSON string token names a secret.
func isSecretKey(token []byte) bool {
	name := string(token[1 : len(token)-1])
	if strings.Contains(name, "\\") { // "\u0061uth" is "auth" to a decoder
		if err := json.Unmarshal(token, &name); err != nil {
			return false
		}
	}
	for _, k := range secretKeys {
		if strings.EqualFold(name, k) {
			return true
		}
	}
	return false
}

// Diff returns a unified-style line diff (hunks with "@@ -a,b +c,d @@"
// headers, three lines of context) from old to new, for --dry-run. Both sides
// pass through RedactSecrets first: a dry run must not print the plaintext it
// is about to remove. Equal inputs give "".
func Diff(old, new []byte) string {
	a, b := splitLines(string(RedactSecrets(old))), splitLines(string(RedactSecrets(new)))
	ops := lineOps(a, b)
	var out strings.Builder
	for _, h := range hunks(ops) {
		writeHunk(&out, ops[h[0]:h[1]])
	}
	return out.String()
}

// splitLines splits text into lines; a last line without a newline is marked
// the way diff marks it.
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for i, l := range lines {
		if strings.HasSuffix(l, "\n") {
			lines[i] = strings.TrimSuffix(l, "\n")
		} else {
			lines[i] = l + "\n\\ No newline at end of file"
		}
	}
	return lines
}

// op is one line of the edit script, with its 1-based line numbers in old
// and new (the number the next line would have, for a side it is absent from).
type op struct {
	kind         byte // ' ', '-' or '+'
	text         string
	aLine, bLine int
}

// lineOps computes a shortest edit script through the longest common
// subsequence of lines.
func lineOps(a, b []string) []op {
	n, m := len(a), len(b)
	if n*m > maxDiffCells {
		return replaceAll(a, b)
	}
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var ops []op
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			ops = append(ops, op{' ', a[i], i + 1, j + 1})
			i, j = i+1, j+1
		case j < m && (i == n || lcs[i][j+1] > lcs[i+1][j]):
			ops = append(ops, op{'+', b[j], i + 1, j + 1})
			j++
		default:
			ops = append(ops, op{'-', a[i], i + 1, j + 1})
			i++
		}
	}
	return ops
}

func replaceAll(a, b []string) []op {
	ops := make([]op, 0, len(a)+len(b))
	for i, l := range a {
		ops = append(ops, op{'-', l, i + 1, 1})
	}
	for j, l := range b {
		ops = append(ops, op{'+', l, len(a) + 1, j + 1})
	}
	return ops
}

// hunks groups changed ops with their context into [start, end) ranges,
// merging groups whose context would overlap.
func hunks(ops []op) [][2]int {
	var out [][2]int
	for i, o := range ops {
		if o.kind == ' ' {
			continue
		}
		start, end := max(0, i-contextLines), min(len(ops), i+1+contextLines)
		if len(out) > 0 && start <= out[len(out)-1][1] {
			out[len(out)-1][1] = end
			continue
		}
		out = append(out, [2]int{start, end})
	}
	return out
}

func writeHunk(out *strings.Builder, ops []op) {
	var aCount, bCount int
	for _, o := range ops {
		if o.kind != '+' {
			aCount++
		}
		if o.kind != '-' {
			bCount++
		}
	}
	fmt.Fprintf(out, "@@ -%s +%s @@\n", hunkRange(ops[0].aLine, aCount), hunkRange(ops[0].bLine, bCount))
	for _, o := range ops {
		out.WriteByte(o.kind)
		out.WriteString(o.text)
		out.WriteByte('\n')
	}
}

// hunkRange formats "start,count" the way diff -u does: an empty side starts
// at the line before it.
func hunkRange(start, count int) string {
	if count == 0 {
		start--
	}
	if count == 1 {
		return fmt.Sprint(start)
	}
	return fmt.Sprintf("%d,%d", start, count)
}
