// Command benchpeers turns benchproc's -json results into the peers table:
// one row per comparison with both medians, the ratio, the target and
// pass/fail. With -md it also replaces that section of BENCHMARKS.md,
// keeping every other section.
//
//	benchpeers -results a.json,b.json -title "Peers" -command "scripts/bench-peers.sh" \
//	  -machine "..." -md BENCHMARKS.md \
//	  -ratio "get, keychain|keyport get (keychain)|secretservice get|0.5" \
//	  -rss "peak RSS, keyport get (file)|keyport get (file)|20"
//
// Exit status 0 even when a row fails; -strict makes a failing row exit 3.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

type result struct {
	Name     string `json:"name"`
	Runs     int    `json:"runs"`
	MedianNS int64  `json:"median_ns"`
	P90NS    int64  `json:"p90_ns"`
	MaxRSSKB int64  `json:"max_rss_kb"`
}

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	var ratios, rsss multi
	files := flag.String("results", "", "comma-separated benchproc -json files")
	title := flag.String("title", "Peers", "section heading in the Markdown file")
	command := flag.String("command", "", "the command that produced the figures")
	machine := flag.String("machine", "", "description of the machine")
	md := flag.String("md", "", "Markdown file whose section to replace (created if missing)")
	strict := flag.Bool("strict", false, "exit 3 when a row misses its target")
	flag.Var(&ratios, "ratio", `"label|A|B|max": median(A)/median(B) must be ≤ max`)
	flag.Var(&rsss, "rss", `"label|A|maxMB": peak RSS of A must be ≤ maxMB`)
	flag.Parse()

	byName := map[string]result{}
	for _, f := range strings.Split(*files, ",") {
		if f == "" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			fail(err)
		}
		var rs []result
		if err := json.Unmarshal(b, &rs); err != nil {
			fail(fmt.Errorf("%s: %w", f, err))
		}
		for _, r := range rs {
			byName[r.Name] = r
		}
	}
	get := func(name string) result {
		r, ok := byName[name]
		if !ok {
			fail(fmt.Errorf("no result named %q", name))
		}
		return r
	}

	var t strings.Builder
	t.WriteString("| measurement | keyport median (p90) | other median (p90) | ratio | target | result |\n")
	t.WriteString("|---|---|---|---|---|---|\n")
	failed := 0
	verdict := func(ok bool) string {
		if ok {
			return "pass"
		}
		failed++
		return "**FAIL**"
	}
	for _, spec := range ratios {
		p := strings.Split(spec, "|")
		if len(p) != 4 {
			fail(fmt.Errorf("-ratio %q: want label|A|B|max", spec))
		}
		a, b := get(p[1]), get(p[2])
		target, err := strconv.ParseFloat(p[3], 64)
		if err != nil {
			fail(err)
		}
		r := float64(a.MedianNS) / float64(b.MedianNS)
		fmt.Fprintf(&t, "| %s | %s (%s) | %s: %s (%s) | %.2f× | ≤ %s× | %s |\n",
			p[0], ms(a.MedianNS), ms(a.P90NS), b.Name, ms(b.MedianNS), ms(b.P90NS), r, p[3], verdict(r <= target))
	}
	for _, spec := range rsss {
		p := strings.Split(spec, "|")
		if len(p) != 3 {
			fail(fmt.Errorf("-rss %q: want label|A|maxMB", spec))
		}
		a := get(p[1])
		limit, err := strconv.ParseFloat(p[2], 64)
		if err != nil {
			fail(err)
		}
		mb := float64(a.MaxRSSKB) / 1024
		fmt.Fprintf(&t, "| %s | %.1f MB | | | ≤ %s MB | %s |\n", p[0], mb, p[2], verdict(mb <= limit))
	}
	minRuns, maxRuns := 0, 0
	for _, r := range byName {
		if minRuns == 0 || r.Runs < minRuns {
			minRuns = r.Runs
		}
		maxRuns = max(maxRuns, r.Runs)
	}
	runs := fmt.Sprint(maxRuns)
	if minRuns != maxRuns {
		runs = fmt.Sprintf("%d–%d", minRuns, maxRuns)
	}

	var sec strings.Builder
	fmt.Fprintf(&sec, "## %s\n\n", *title)
	if *command != "" {
		fmt.Fprintf(&sec, "Command: `%s`\n\n", *command)
	}
	fmt.Fprintf(&sec, "Run: %s, %s interleaved runs of each process per pair (after warm-up), whole-process wall time, each program run from fresh uncached copies of its file.\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"), runs)
	if *machine != "" {
		fmt.Fprintf(&sec, "Machine: %s\n\n", *machine)
	}
	sec.WriteString(t.String())

	fmt.Print(t.String())
	if *md != "" {
		if err := replaceSection(*md, *title, sec.String()); err != nil {
			fail(err)
		}
	}
	if failed > 0 {
		fmt.Fprintf(os.Stderr, "benchpeers: %d row(s) missed the target\n", failed)
		if *strict {
			os.Exit(3)
		}
	}
}

// replaceSection swaps the "## title" section of the file (up to the next
// "## " heading) for sec, or appends sec; a new file gets a top heading.
func replaceSection(path, title, sec string) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	text := string(old)
	if text == "" {
		text = "# Benchmarks\n\nWritten by the scripts that measure; edit the scripts, not the figures.\n"
	}
	lines := strings.SplitAfter(text, "\n")
	head := "## " + title
	start, end := -1, len(lines)
	for i, l := range lines {
		trimmed := strings.TrimRight(l, "\n")
		if start < 0 && trimmed == head {
			start = i
			continue
		}
		if start >= 0 && strings.HasPrefix(trimmed, "## ") {
			end = i
			break
		}
	}
	var out string
	if start < 0 {
		out = strings.TrimRight(text, "\n") + "\n\n" + sec
	} else {
		rest := strings.Join(lines[end:], "")
		if rest != "" {
			sec += "\n"
		}
		out = strings.Join(lines[:start], "") + sec + rest
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(out), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func ms(ns int64) string { return fmt.Sprintf("%.2f ms", float64(ns)/1e6) }

func fail(err error) {
	fmt.Fprintln(os.Stderr, "benchpeers:", err)
	os.Exit(1)
}
