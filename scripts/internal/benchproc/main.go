// Command benchproc times whole processes A/B, interleaved, so both sides
// see the same machine state; it prints medians, p90, the ratio to the first
// command, and peak RSS.
//
//	benchproc -n 200 -stdin docker.io -name floor -cmd ./floor -name keyport -cmd "./helper get"
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"
)

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	var names, cmds multi
	n := flag.Int("n", 200, "runs of each command")
	stdin := flag.String("stdin", "", "stdin for every run")
	flag.Var(&names, "name", "label of the next -cmd")
	flag.Var(&cmds, "cmd", "command line (split on spaces)")
	flag.Parse()
	if len(cmds) == 0 || len(names) != len(cmds) {
		fmt.Fprintln(os.Stderr, "benchproc: give -name and -cmd pairs")
		os.Exit(2)
	}
	times := make([][]time.Duration, len(cmds))
	rss := make([]int64, len(cmds))
	for i := 0; i < *n+5; i++ {
		for j, c := range cmds {
			argv := strings.Fields(c)
			cmd := exec.Command(argv[0], argv[1:]...)
			cmd.Stdin = strings.NewReader(*stdin)
			start := time.Now()
			out, err := cmd.Output()
			d := time.Since(start)
			if err != nil {
				fmt.Fprintf(os.Stderr, "benchproc: %s failed: %v: %s\n", names[j], err, out)
				os.Exit(1)
			}
			if i < 5 {
				continue // warm-up
			}
			times[j] = append(times[j], d)
			if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && ru.Maxrss > rss[j] {
				rss[j] = ru.Maxrss
			}
		}
	}
	fmt.Printf("| command | median | p90 | ratio to %s | peak RSS |\n|---|---|---|---|---|\n", names[0])
	base := median(times[0])
	for j := range cmds {
		m := median(times[j])
		fmt.Printf("| %s | %s | %s | %.2f× | %.1f MB |\n", names[j], round(m), round(pct(times[j], 0.9)), float64(m)/float64(base), float64(rss[j])/1024)
	}
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
