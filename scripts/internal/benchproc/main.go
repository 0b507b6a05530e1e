// Command benchproc times whole processes A/B, interleaved, so both sides
// see the same machine state; it prints medians, p90, the ratio to the first
// command, and peak RSS.
//
//	benchproc -n 200 -stdin docker.io -name floor -cmd ./floor -name keyport -cmd "./helper get"
//
// A -cmd may start with NAME=VALUE words, as in a shell, which set the
// environment of that command only (no /usr/bin/env process in the timing):
//
//	-name "keyport get (file)" -cmd "KEYPORT_BACKEND=file ./helper get"
//
// -copies K runs each program from K copies of its file, in turn. The page
// cache holds a program in whatever folios its last writer or reader left
// (the Go linker writes through mmap, cp through write, a cold start reads
// ahead), and that alone moves a 2 ms process by 10% or more, run to run
// and binary to binary. Each copy is written, flushed and dropped from the
// cache, so its first start reads it back the way an installed program is
// read after a reboot; rotating over several copies keeps one lucky or
// unlucky layout from deciding a ratio. Every command gets the same
// treatment.
//
// -stdin-file reads every run's stdin from a file instead of -stdin; -json
// FILE also writes the results (nanoseconds, kilobytes) for other tools.
//
// Peak RSS is not taken from the timed runs: Go starts children with
// vfork (CLONE_VM), and Linux carries the parent's RSS high-water mark into
// the child's ru_maxrss at exec, so every child would report at least
// benchproc's own size. Instead, after the timed runs, each command runs
// -rss-runs more times under a fresh, small benchproc (the -exec-rss mode),
// whose child's ru_maxrss is its own peak (or that launcher's few MB when
// the child is smaller still: figures under ~3 MB are upper bounds).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

// Result is one command's figures, as -json writes them.
type Result struct {
	Name     string  `json:"name"`
	Cmd      string  `json:"cmd"`
	Runs     int     `json:"runs"`
	MedianNS int64   `json:"median_ns"`
	P90NS    int64   `json:"p90_ns"`
	MinNS    int64   `json:"min_ns"`
	Ratio    float64 `json:"ratio_to_first"`
	MaxRSSKB int64   `json:"max_rss_kb"`
}

// splitCmd parses a -cmd: leading NAME=VALUE words are environment, the
// rest is the argv.
func splitCmd(c string) (env, argv []string) {
	words := strings.Fields(c)
	for len(words) > 0 {
		name, _, ok := strings.Cut(words[0], "=")
		if !ok || name == "" || strings.ContainsAny(name, "/.") {
			break
		}
		env = append(env, words[0])
		words = words[1:]
	}
	return env, words
}

func main() {
	if len(os.Args) > 2 && os.Args[1] == "-exec-rss" {
		execRSS(os.Args[2:])
	}
	var names, cmds multi
	n := flag.Int("n", 200, "runs of each command")
	warm := flag.Int("warmup", 5, "untimed runs of each command first")
	rssRuns := flag.Int("rss-runs", 5, "untimed runs of each command, after the timed ones, to measure peak RSS")
	stdin := flag.String("stdin", "", "stdin for every run")
	stdinFile := flag.String("stdin-file", "", "file whose content is the stdin of every run (instead of -stdin)")
	jsonOut := flag.String("json", "", "also write the results as JSON to this file")
	copies := flag.Int("copies", 1, "run each program from this many fresh copies of its file, in turn (1: the file as given)")
	flag.Var(&names, "name", "label of the next -cmd")
	flag.Var(&cmds, "cmd", "command line (split on spaces; leading NAME=VALUE words set its environment)")
	flag.Parse()
	if len(cmds) == 0 || len(names) != len(cmds) || *n < 1 {
		fmt.Fprintln(os.Stderr, "benchproc: give -name and -cmd pairs")
		os.Exit(2)
	}
	input := *stdin
	if *stdinFile != "" {
		b, err := os.ReadFile(*stdinFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchproc:", err)
			os.Exit(2)
		}
		input = string(b)
	}
	envs := make([][]string, len(cmds))
	argvs := make([][]string, len(cmds))
	for j, c := range cmds {
		extra, argv := splitCmd(c)
		if len(argv) == 0 {
			fmt.Fprintf(os.Stderr, "benchproc: -cmd %q has no program\n", c)
			os.Exit(2)
		}
		if len(extra) > 0 {
			envs[j] = append(os.Environ(), extra...)
		}
		argvs[j] = argv
	}
	progs := make([][]string, len(cmds)) // progs[j][k]: copy k of command j's program
	if *copies > 1 {
		dir, err := os.MkdirTemp("", "benchproc-copies-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchproc:", err)
			os.Exit(1)
		}
		defer os.RemoveAll(dir)
		for j := range cmds {
			for k := 0; k < *copies; k++ {
				c, err := copyProgram(argvs[j][0], filepath.Join(dir, fmt.Sprintf("%d-%d-%s", j, k, filepath.Base(argvs[j][0]))))
				if err != nil {
					fmt.Fprintln(os.Stderr, "benchproc:", err)
					os.Exit(1)
				}
				progs[j] = append(progs[j], c)
			}
		}
	} else {
		for j := range cmds {
			progs[j] = []string{argvs[j][0]}
		}
	}
	times := make([][]time.Duration, len(cmds))
	rss := make([]int64, len(cmds))
	for i := 0; i < *n+*warm; i++ {
		for j := range cmds {
			cmd := exec.Command(progs[j][i%len(progs[j])], argvs[j][1:]...)
			cmd.Env = envs[j] // nil: inherit
			cmd.Stdin = strings.NewReader(input)
			start := time.Now()
			out, err := cmd.Output()
			d := time.Since(start)
			if err != nil {
				var stderr []byte
				if ee, ok := err.(*exec.ExitError); ok {
					stderr = ee.Stderr
				}
				fmt.Fprintf(os.Stderr, "benchproc: %s failed: %v: %s%s\n", names[j], err, out, stderr)
				os.Exit(1)
			}
			if i < *warm {
				continue // warm-up
			}
			times[j] = append(times[j], d)
		}
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchproc:", err)
		os.Exit(1)
	}
	for i := 0; i < *rssRuns; i++ {
		for j := range cmds {
			kb, err := measureRSS(self, envs[j], argvs[j], input)
			if err != nil {
				fmt.Fprintf(os.Stderr, "benchproc: %s (peak RSS run) failed: %v\n", names[j], err)
				os.Exit(1)
			}
			rss[j] = max(rss[j], kb)
		}
	}
	results := make([]Result, len(cmds))
	base := median(times[0])
	for j := range cmds {
		m := median(times[j])
		results[j] = Result{
			Name: names[j], Cmd: cmds[j], Runs: len(times[j]),
			MedianNS: int64(m), P90NS: int64(pct(times[j], 0.9)), MinNS: int64(pct(times[j], 0)),
			Ratio: float64(m) / float64(base), MaxRSSKB: rss[j],
		}
	}
	fmt.Printf("| command | median | p90 | ratio to %s | peak RSS |\n|---|---|---|---|---|\n", names[0])
	for _, r := range results {
		fmt.Printf("| %s | %s | %s | %.2f× | %.1f MB |\n", r.Name, round(time.Duration(r.MedianNS)), round(time.Duration(r.P90NS)), r.Ratio, float64(r.MaxRSSKB)/1024)
	}
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(results, "", "  ")
		if err := os.WriteFile(*jsonOut, append(b, '\n'), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "benchproc:", err)
			os.Exit(1)
		}
	}
}

// copyProgram copies the program (looked up in PATH when it has no slash)
// to dst, flushes it and drops it from the page cache.
func copyProgram(prog, dst string) (string, error) {
	src, err := exec.LookPath(prog)
	if err != nil {
		return "", err
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return "", err
	}
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o755)
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = dropCache(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return dst, err
}

// measureRSS runs argv once under `self -exec-rss` and returns its peak RSS
// in KB, as the launcher's wait4 reported it.
func measureRSS(self string, env, argv []string, input string) (int64, error) {
	cmd := exec.Command(self, append([]string{"-exec-rss"}, argv...)...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(input)
	r, w, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer r.Close()
	cmd.ExtraFiles = []*os.File{w}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err = cmd.Start()
	w.Close()
	if err != nil {
		return 0, err
	}
	report, _ := io.ReadAll(r)
	if err := cmd.Wait(); err != nil {
		return 0, fmt.Errorf("%v: %s", err, stderr.String())
	}
	return strconv.ParseInt(strings.TrimSpace(string(report)), 10, 64)
}

// execRSS is the -exec-rss mode: run argv with our stdin and stdout, write
// its ru_maxrss (KB) to fd 3, exit with its status.
func execRSS(argv []string) {
	report := os.NewFile(3, "report")
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, io.Discard, os.Stderr
	err := cmd.Run()
	if cmd.ProcessState == nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		fmt.Fprintln(report, ru.Maxrss)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(cmd.ProcessState.ExitCode())
}

func median(d []time.Duration) time.Duration { return pct(d, 0.5) }

func pct(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[int(float64(len(s)-1)*p)]
}

func round(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}
