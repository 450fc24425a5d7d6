package cli_test

import (
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/testenv"
	"github.com/berth-project/berth/internal/testenv/registrytest"
)

// A scenario is one row of a table: setup commands, the commands under
// test with what each must print and exit with, and cleanup commands that
// run whatever happened. Commands are written as a shell would (quotes
// group words, nothing else is special) without the client's name and -H,
// which the runner adds. Words may hold {vars}:
//
//	{name} {name2} {name3}  names unique to the scenario and client
//	{image}                 busybox, made by scripts/mkbusybox.sh
//	{tar}                   that image's root filesystem tar
//	{dir}                   a temporary directory of the scenario
//	{reg}                   a registry's host:port (scenario.registry)
//	{since}                 when the scenario started (events --since)
//	{now}                   when the command runs (events --until)
//
// plus whatever an earlier step saved with saveAs.
type scenario struct {
	name string
	// legacy: also run with Debian's docker CLI 20.10.
	legacy bool
	// registry: start a registry for {reg}.
	registry bool
	setup    []step
	steps    []step
	cleanup  []string
}

// A step is one client run and what it must do. Expectations are options
// (out, has, match, exits, ...) applied when the step runs, once the
// scenario's vars are known.
type step struct {
	line string
	opts []stepOpt
	// do, when set, is the step instead of a client run: something done
	// to the daemon (kill it, restart it) between commands.
	do func(t *testing.T, e *engine)
}

// run is a step: a command that must exit 0 unless exits says otherwise.
func run(line string, opts ...stepOpt) step { return step{line: line, opts: opts} }

// action is a step that acts on the daemon instead of running the client.
func action(do func(t *testing.T, e *engine)) step { return step{do: do} }

// plan is a step made concrete for one run.
type plan struct {
	exit       int
	checks     []check
	stdin      io.Reader
	save       string
	eventually bool
}

// check judges a run.
type check struct {
	what string
	ok   func(r result) bool
}

type stepOpt func(p *plan, v vars)

// exits: the command must exit with code (default 0).
func exits(code int) stepOpt { return func(p *plan, _ vars) { p.exit = code } }

// out: stdout, without its trailing newlines, is exactly s.
func out(s string) stepOpt {
	return func(p *plan, v vars) {
		want := v.expand(s)
		p.checks = append(p.checks, check{fmt.Sprintf("stdout = %q", want), func(r result) bool {
			return strings.TrimRight(r.stdout, "\n") == want
		}})
	}
}

// has: stdout holds every s.
func has(ss ...string) stepOpt {
	return func(p *plan, v vars) {
		for _, s := range ss {
			want := v.expand(s)
			p.checks = append(p.checks, check{fmt.Sprintf("stdout holds %q", want), func(r result) bool {
				return strings.Contains(r.stdout, want)
			}})
		}
	}
}

// match: stdout matches the regular expression (multi-line mode).
func match(re string) stepOpt {
	return func(p *plan, v vars) {
		expr := v.expand(re)
		rx := regexp.MustCompile("(?m)" + expr)
		p.checks = append(p.checks, check{fmt.Sprintf("stdout matches %q", expr), func(r result) bool {
			return rx.MatchString(r.stdout)
		}})
	}
}

// errHas: stderr holds s, compared case-insensitively: clients and
// daemon versions differ in capitals ("No such object" / "no such").
func errHas(s string) stepOpt {
	return func(p *plan, v vars) {
		want := v.expand(s)
		p.checks = append(p.checks, check{fmt.Sprintf("stderr holds %q", want), func(r result) bool {
			return strings.Contains(strings.ToLower(r.stderr), strings.ToLower(want))
		}})
	}
}

// anyHas: stdout or stderr holds s (case-insensitively). The docker CLI
// prints some daemon errors on stdout (exec's OCI errors), others on
// stderr.
func anyHas(s string) stepOpt {
	return func(p *plan, v vars) {
		want := strings.ToLower(v.expand(s))
		p.checks = append(p.checks, check{fmt.Sprintf("stdout or stderr holds %q", want), func(r result) bool {
			return strings.Contains(strings.ToLower(r.stdout+r.stderr), want)
		}})
	}
}

// errLacks: stderr does not hold s (compared as errHas does).
func errLacks(s string) stepOpt {
	return func(p *plan, v vars) {
		unwanted := v.expand(s)
		p.checks = append(p.checks, check{fmt.Sprintf("stderr lacks %q", unwanted), func(r result) bool {
			return !strings.Contains(strings.ToLower(r.stderr), strings.ToLower(unwanted))
		}})
	}
}

// errOut: stderr, without its trailing newlines, is exactly s.
func errOut(s string) stepOpt {
	return func(p *plan, v vars) {
		want := v.expand(s)
		p.checks = append(p.checks, check{fmt.Sprintf("stderr = %q", want), func(r result) bool {
			return strings.TrimRight(r.stderr, "\n") == want
		}})
	}
}

// lines: stdout has n non-empty lines.
func lines(n int) stepOpt {
	return func(p *plan, _ vars) {
		p.checks = append(p.checks, check{fmt.Sprintf("%d lines of stdout", n), func(r result) bool {
			return len(nonEmptyLines(r.stdout)) == n
		}})
	}
}

func nonEmptyLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// stdin feeds s to the command.
func stdin(s string) stepOpt {
	return func(p *plan, v vars) { p.stdin = strings.NewReader(v.expand(s)) }
}

// stdinFile feeds the file to the command (the path is expanded).
func stdinFile(path string) stepOpt {
	return func(p *plan, v vars) { p.stdin = fileReader{v.expand(path)} }
}

// fileReader opens its file on first read, so a plan can be built before
// an earlier step writes the file.
type fileReader struct{ path string }

func (f fileReader) Read([]byte) (int, error) { panic("fileReader is opened by the runner") }

// saveAs stores stdout, trimmed, as {name} for later steps.
func saveAs(name string) stepOpt { return func(p *plan, _ vars) { p.save = name } }

// eventually retries the step until its expectations hold (or the
// deadline passes): for state the daemon reaches after the command
// returned (a restart policy, a killed container's exit).
func eventually() stepOpt { return func(p *plan, _ vars) { p.eventually = true } }

// eventuallyTimeout bounds eventually.
const eventuallyTimeout = 30 * time.Second

// vars are a scenario's {name} values.
type vars map[string]string

// varPattern finds {var}s; it also matches the {{end}} of Go templates,
// which expand leaves alone.
var varPattern = regexp.MustCompile(`\{+[a-z][a-z0-9]*\}+`)

// expand replaces every {var}. {now} is the time of the call. An unknown
// var panics: it is a typo in a table.
func (v vars) expand(s string) string {
	return varPattern.ReplaceAllStringFunc(s, func(m string) string {
		if strings.HasPrefix(m, "{{") || strings.HasSuffix(m, "}}") {
			return m // a template action such as {{end}}
		}
		key := m[1 : len(m)-1]
		if key == "now" {
			return eventTime(time.Now())
		}
		val, ok := v[key]
		if !ok {
			panic(fmt.Sprintf("unknown var %s in %q", m, s))
		}
		return val
	})
}

// eventTime formats t as docker's --since/--until take a Unix time.
func eventTime(t time.Time) string {
	return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond())
}

// runTable runs every scenario of table that c takes, in parallel.
func runTable(t *testing.T, e *engine, c client, table []scenario) {
	for _, sc := range table {
		if c.legacy && !sc.legacy {
			continue
		}
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			sc.run(t, e, c)
		})
	}
}

func (sc scenario) run(t *testing.T, e *engine, c client) {
	v := vars{
		"name":  testenv.UniqueName(t, ""),
		"name2": testenv.UniqueName(t, ""),
		"name3": testenv.UniqueName(t, ""),
		"image": "busybox",
		"tar":   e.tar,
		"dir":   t.TempDir(),
		"since": eventTime(time.Now()),
	}
	if sc.registry {
		v["reg"] = registrytest.Start(t).Host
	}
	t.Cleanup(func() {
		for _, line := range sc.cleanup {
			args := v.words(line)
			if r := e.run(t, c, nil, args...); r.exit != 0 && t.Failed() {
				t.Logf("cleanup (failed, ignored):\n%s", r)
			}
		}
	})
	// Registered last, so it runs before the cleanup removes anything.
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("daemon log (lines naming this scenario's objects, and warnings):\n%s",
				e.d.LogMatching(60, v["name"], v["name2"], v["name3"]))
		}
	})
	for i, s := range sc.setup {
		if !e.step(t, c, v, s) {
			t.Fatalf("setup step %d failed", i+1)
		}
	}
	for i, s := range sc.steps {
		if !e.step(t, c, v, s) {
			t.Fatalf("step %d failed", i+1)
		}
	}
}

// words splits line into words and expands the vars in each.
func (v vars) words(line string) []string {
	ws, err := splitWords(line)
	if err != nil {
		panic(fmt.Sprintf("bad command %q: %v", line, err))
	}
	for i, w := range ws {
		ws[i] = v.expand(w)
	}
	return ws
}

// step runs one step and reports (on t) what did not hold.
func (e *engine) step(t *testing.T, c client, v vars, s step) bool {
	t.Helper()
	if s.do != nil {
		s.do(t, e)
		return !t.Failed()
	}
	deadline := time.Now().Add(eventuallyTimeout)
	for attempt := 1; ; attempt++ {
		var p plan
		for _, o := range s.opts {
			o(&p, v)
		}
		args := v.words(s.line)
		stdin := p.stdin
		var fh *os.File
		if f, ok := stdin.(fileReader); ok {
			var err error
			if fh, err = os.Open(f.path); err != nil {
				t.Errorf("stdin: %v", err)
				return false
			}
			stdin = fh
		}
		r := e.run(t, c, stdin, args...)
		if fh != nil {
			fh.Close()
		}
		var failed []string
		if r.exit != p.exit {
			failed = append(failed, fmt.Sprintf("exit %d", p.exit))
		}
		for _, ch := range p.checks {
			if !ch.ok(r) {
				failed = append(failed, ch.what)
			}
		}
		if len(failed) == 0 {
			if p.save != "" {
				v[p.save] = strings.TrimSpace(r.stdout)
			}
			return true
		}
		// Prunes are serialized per daemon (dockerd's and Berth's 409 "a
		// prune operation is already running"): rows running in parallel
		// on one daemon may meet one, and try again as a user would.
		busy := strings.Contains(r.stderr, "a prune operation is already running")
		if (!p.eventually && !busy) || time.Now().After(deadline) {
			how := ""
			if p.eventually {
				how = fmt.Sprintf(" (still, after %d attempts in %v)", attempt, eventuallyTimeout)
			}
			t.Errorf("want %s%s:\n%s", strings.Join(failed, ", "), how, r)
			return false
		}
		time.Sleep(min(time.Duration(attempt)*50*time.Millisecond, 500*time.Millisecond))
	}
}

// splitWords splits a command line as a shell would for the cases tables
// use: blanks separate words, '...' is literal, "..." is literal but for
// \" and \\, and a backslash outside quotes escapes the next character.
func splitWords(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		ch := line[i]
		switch {
		case ch == ' ' || ch == '\t' || ch == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case ch == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated ' at %d", i)
			}
			cur.WriteString(line[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case ch == '"':
			i++
			for ; i < len(line) && line[i] != '"'; i++ {
				if line[i] == '\\' && i+1 < len(line) && (line[i+1] == '"' || line[i+1] == '\\') {
					i++
				}
				cur.WriteByte(line[i])
			}
			if i >= len(line) {
				return nil, fmt.Errorf(`unterminated "`)
			}
			inWord = true
		case ch == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
			inWord = true
		default:
			cur.WriteByte(ch)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
