package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/berth-project/berth/internal/runtime"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func loadBundleSpec(bundle string) (*specs.Spec, error) {
	if bundle == "" {
		bundle = "."
	}
	return runtime.LoadSpec(bundle)
}

func newListCommand(g *globals) *command {
	var format string
	var quiet bool
	cmd := &command{
		usage:   "list",
		aliases: []string{"ls"},
		short:   "list containers",
		args:    exactArgs(0),
		run: func(ctx context.Context, args []string) error {
			rt, err := g.runtime()
			if err != nil {
				return err
			}
			cs, err := rt.List()
			if err != nil {
				return err
			}
			if quiet {
				for _, c := range cs {
					fmt.Println(c.ID())
				}
				return nil
			}
			states := make([]*runtime.State, 0, len(cs))
			for _, c := range cs {
				states = append(states, c.State())
			}
			switch format {
			case "json":
				return json.NewEncoder(os.Stdout).Encode(states)
			case "table":
				w := tabwriter.NewWriter(os.Stdout, 12, 1, 3, ' ', 0)
				fmt.Fprint(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
				for _, s := range states {
					fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", s.ID, s.Pid, s.Status, s.Bundle, s.Created.Format(time.RFC3339Nano), s.Owner)
				}
				return w.Flush()
			}
			return fmt.Errorf("--format %q: must be table or json", format)
		},
	}
	cmd.flags.String(&format, "format", 'f', "table", "table or json")
	cmd.flags.Bool(&quiet, "quiet", 'q', "print only the ids")
	return cmd
}

func newPsCommand(g *globals) *command {
	var format string
	cmd := &command{
		usage: "ps [--format table|json] <container-id> [ps options]",
		short: "list the processes of a container",
		args: func(cmd *command, args []string) error {
			if len(args) < 1 {
				return fmt.Errorf("%q requires a container id", cmd.name)
			}
			return nil
		},
		run: func(ctx context.Context, args []string) error {
			c, err := g.load(args[0])
			if err != nil {
				return err
			}
			pids, err := c.Processes()
			if err != nil {
				return err
			}
			if format == "json" {
				if pids == nil {
					pids = []int{}
				}
				return json.NewEncoder(os.Stdout).Encode(pids)
			}
			if format != "table" {
				return fmt.Errorf("--format %q: must be table or json", format)
			}
			psArgs := args[1:]
			if len(psArgs) == 0 {
				psArgs = []string{"-ef"}
			}
			out, err := exec.Command("ps", psArgs...).Output()
			if err != nil {
				return fmt.Errorf("ps: %w", err)
			}
			return filterPs(out, pids)
		},
	}
	cmd.stopAtArg = true
	cmd.flags.String(&format, "format", 'f', "table", "table or json")
	return cmd
}

// filterPs prints ps's header and the lines of the container's processes.
func filterPs(out []byte, pids []int) error {
	sc := bufio.NewScanner(bytes.NewReader(out))
	if !sc.Scan() {
		return errors.New("ps printed nothing")
	}
	header := sc.Text()
	col := slices.Index(strings.Fields(header), "PID")
	if col < 0 {
		return errors.New("ps output has no PID column")
	}
	fmt.Println(header)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) <= col {
			continue
		}
		pid, err := strconv.Atoi(fields[col])
		if err == nil && slices.Contains(pids, pid) {
			fmt.Println(sc.Text())
		}
	}
	return nil
}

func newFeaturesCommand() *command {
	return &command{
		usage: "features",
		short: "print what this runtime implements, as JSON",
		args:  exactArgs(0),
		run: func(ctx context.Context, args []string) error {
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "    ")
			return enc.Encode(runtime.Features())
		},
	}
}

func newSpecCommand() *command {
	var bundle string
	var rootless bool
	cmd := &command{
		usage: "spec",
		short: "write a default config.json",
		args:  exactArgs(0),
		run: func(ctx context.Context, args []string) error {
			path := filepath.Join(bundle, "config.json")
			if _, err := os.Stat(path); err == nil {
				return fmt.Errorf("%s already exists", path)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			data, err := json.MarshalIndent(runtime.DefaultSpec(rootless), "", "\t")
			if err != nil {
				return err
			}
			return os.WriteFile(path, append(data, '\n'), 0o644)
		},
	}
	cmd.flags.String(&bundle, "bundle", 'b', ".", "bundle directory to write config.json in")
	cmd.flags.Bool(&rootless, "rootless", 0, "a config for a rootless container")
	return cmd
}
