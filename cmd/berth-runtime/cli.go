package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// The command line, runc's: global flags, a command, its flags and
// arguments. It is our own rather than cobra's: every start of this binary,
// the container's init included, ran the package initializers of cobra and
// what it brings (pflag, text/template, net, regexp, unicode's tables),
// and every command built cobra's tree of 15 commands before it parsed
// anything (0.2 to 0.4 ms here). This is the part of cobra and pflag the
// runtime uses: long and short flags (--bundle x, --bundle=x, -b x, -bx,
// clustered booleans -dt), flags before, between and after arguments
// (or up to the first argument, for exec and ps), "--", global flags
// anywhere after the program name, and help.

// command is one subcommand.
type command struct {
	name    string
	aliases []string
	usage   string // after the program name: "create [flags] <container-id>"
	short   string
	flags   flagSet
	// stopAtArg ends flag parsing at the first argument: what follows is
	// a command line of its own (exec, ps).
	stopAtArg bool
	// args checks the arguments, before run; nil accepts any.
	args func(c *command, args []string) error
	run  func(ctx context.Context, args []string) error
}

// exactArgs is an args check with runc's message.
func exactArgs(n int) func(*command, []string) error {
	return func(c *command, args []string) error {
		if len(args) != n {
			return fmt.Errorf("%q requires exactly %d argument(s)", c.name, n)
		}
		return nil
	}
}

// flagSet is a command's flags, in the order they were defined.
type flagSet struct{ list []*flagDef }

type flagDef struct {
	name    string
	short   byte // 0: none
	usage   string
	value   flagValue
	hidden  bool
	changed bool
}

// flagValue is a flag's typed destination.
type flagValue interface {
	set(s string) error
	isBool() bool
	typeName() string // for help: "string", "int", ...; "" for booleans
	defaultText() string
}

type stringFlag struct{ p *string }

func (v stringFlag) set(s string) error { *v.p = s; return nil }
func (v stringFlag) isBool() bool       { return false }
func (v stringFlag) typeName() string   { return "string" }

func (v stringFlag) defaultText() string {
	if *v.p == "" {
		return ""
	}
	return strconv.Quote(*v.p)
}

// stringArrayFlag appends every occurrence (-e A -e B), as pflag's
// StringArray does: values are not split on commas.
type stringArrayFlag struct{ p *[]string }

func (v stringArrayFlag) set(s string) error  { *v.p = append(*v.p, s); return nil }
func (v stringArrayFlag) isBool() bool        { return false }
func (v stringArrayFlag) typeName() string    { return "stringArray" }
func (v stringArrayFlag) defaultText() string { return "" }

type boolFlag struct{ p *bool }

func (v boolFlag) set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("%q is not a boolean", s)
	}
	*v.p = b
	return nil
}
func (v boolFlag) isBool() bool        { return true }
func (v boolFlag) typeName() string    { return "" }
func (v boolFlag) defaultText() string { return "" }

// intFlag holds any integer type; bits and signed bound what it accepts.
type intFlag[T int | int64 | uint64 | uint16] struct{ p *T }

func (v intFlag[T]) set(s string) error {
	var n T
	switch p := any(&n).(type) {
	case *int:
		x, err := strconv.ParseInt(s, 0, strconv.IntSize)
		if err != nil {
			return numError(s, err)
		}
		*p = int(x)
	case *int64:
		x, err := strconv.ParseInt(s, 0, 64)
		if err != nil {
			return numError(s, err)
		}
		*p = x
	case *uint64:
		x, err := strconv.ParseUint(s, 0, 64)
		if err != nil {
			return numError(s, err)
		}
		*p = x
	case *uint16:
		x, err := strconv.ParseUint(s, 0, 16)
		if err != nil {
			return numError(s, err)
		}
		*p = uint16(x)
	}
	*v.p = n
	return nil
}
func (v intFlag[T]) isBool() bool { return false }
func (v intFlag[T]) typeName() string {
	switch any(*v.p).(type) {
	case int64:
		return "int64"
	case uint64:
		return "uint"
	case uint16:
		return "uint16"
	}
	return "int"
}
func (v intFlag[T]) defaultText() string {
	if *v.p == 0 {
		return ""
	}
	return fmt.Sprint(*v.p)
}

func numError(s string, err error) error {
	if errors.Is(err, strconv.ErrRange) {
		return fmt.Errorf("%q is out of range", s)
	}
	return fmt.Errorf("%q is not a number", s)
}

type durationFlag struct{ p *time.Duration }

func (v durationFlag) set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration", s)
	}
	*v.p = d
	return nil
}
func (v durationFlag) isBool() bool        { return false }
func (v durationFlag) typeName() string    { return "duration" }
func (v durationFlag) defaultText() string { return v.p.String() }

// add defines a flag; short is 0 for none. The destination's value when
// add is called is the default.
func (f *flagSet) add(name string, short byte, v flagValue, usage string) *flagDef {
	d := &flagDef{name: name, short: short, usage: usage, value: v}
	f.list = append(f.list, d)
	return d
}

func (f *flagSet) String(p *string, name string, short byte, def, usage string) {
	*p = def
	f.add(name, short, stringFlag{p}, usage)
}

func (f *flagSet) StringArray(p *[]string, name string, short byte, usage string) {
	f.add(name, short, stringArrayFlag{p}, usage)
}

func (f *flagSet) Bool(p *bool, name string, short byte, usage string) {
	f.add(name, short, boolFlag{p}, usage)
}

func intVar[T int | int64 | uint64 | uint16](f *flagSet, p *T, name string, short byte, usage string) {
	f.add(name, short, intFlag[T]{p}, usage)
}

func (f *flagSet) Duration(p *time.Duration, name string, def time.Duration, usage string) {
	*p = def
	f.add(name, 0, durationFlag{p}, usage)
}

// Changed reports whether the command line set the flag.
func (f *flagSet) Changed(name string) bool {
	d := f.long(name)
	return d != nil && d.changed
}

func (f *flagSet) long(name string) *flagDef {
	for _, d := range f.list {
		if d.name == name {
			return d
		}
	}
	return nil
}

func (f *flagSet) shorthand(c byte) *flagDef {
	for _, d := range f.list {
		if d.short == c {
			return d
		}
	}
	return nil
}

// errHelp is returned by parse for -h and --help.
var errHelp = errors.New("help requested")

// parse sets the flags found in args, looking each up in sets in order
// (the command's own, then the global ones), and returns the arguments.
// With stopAtArg, the first argument and all that follows are arguments.
func parse(args []string, stopAtArg bool, sets ...*flagSet) ([]string, error) {
	long := func(name string) *flagDef {
		for _, s := range sets {
			if d := s.long(name); d != nil {
				return d
			}
		}
		return nil
	}
	short := func(c byte) *flagDef {
		for _, s := range sets {
			if d := s.shorthand(c); d != nil {
				return d
			}
		}
		return nil
	}
	set := func(d *flagDef, val, as string) error {
		if err := d.value.set(val); err != nil {
			return fmt.Errorf("invalid argument for %s: %w", as, err)
		}
		d.changed = true
		return nil
	}
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return append(out, args[i+1:]...), nil
		case strings.HasPrefix(a, "--"):
			name, val, hasVal := strings.Cut(a[2:], "=")
			d := long(name)
			if d == nil {
				if name == "help" {
					return nil, errHelp
				}
				return nil, fmt.Errorf("unknown flag: --%s", name)
			}
			if !hasVal {
				if d.value.isBool() {
					val = "true"
				} else if i+1 < len(args) {
					i++
					val = args[i]
				} else {
					return nil, fmt.Errorf("flag needs an argument: --%s", name)
				}
			}
			if err := set(d, val, "--"+name); err != nil {
				return nil, err
			}
		case len(a) > 1 && a[0] == '-':
			// -b x, -bx, -b=x, and booleans clustered: -dt.
			for j := 1; j < len(a); j++ {
				c := a[j]
				d := short(c)
				if d == nil {
					if c == 'h' {
						return nil, errHelp
					}
					return nil, fmt.Errorf("unknown shorthand flag: %q in %s", c, a)
				}
				as := "-" + string(c)
				rest := a[j+1:]
				if d.value.isBool() {
					val := "true"
					if v, ok := strings.CutPrefix(rest, "="); ok {
						val, j = v, len(a)
					}
					if err := set(d, val, as); err != nil {
						return nil, err
					}
					continue
				}
				val := strings.TrimPrefix(rest, "=")
				if rest == "" {
					if i+1 >= len(args) {
						return nil, fmt.Errorf("flag needs an argument: %s", as)
					}
					i++
					val = args[i]
				}
				if err := set(d, val, as); err != nil {
					return nil, err
				}
				break
			}
		default:
			if stopAtArg {
				return append(out, args[i:]...), nil
			}
			out = append(out, a)
		}
	}
	return out, nil
}

// printFlags writes a flag table as pflag does: "  -b, --bundle string   usage".
func printFlags(w io.Writer, f *flagSet) {
	type line struct{ left, usage string }
	var lines []line
	width := 0
	for _, d := range f.list {
		if d.hidden {
			continue
		}
		left := "      --" + d.name
		if d.short != 0 {
			left = "  -" + string(d.short) + ", --" + d.name
		}
		if t := d.value.typeName(); t != "" {
			left += " " + t
		}
		usage := d.usage
		if def := d.value.defaultText(); def != "" {
			usage += " (default " + def + ")"
		}
		lines = append(lines, line{left, usage})
		width = max(width, len(left))
	}
	for _, l := range lines {
		fmt.Fprintf(w, "%-*s   %s\n", width, l.left, l.usage)
	}
}
