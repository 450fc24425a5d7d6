package daemontest

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// removeIptables deletes what berthd's iptables backend, and its nftables
// backend's FORWARD-policy workaround, put in iptables for prefix: chains
// named prefix-... in the raw, nat and filter tables, and rules elsewhere
// commented prefix or prefix:... or jumping to those chains. Hosts without
// the iptables tools have none.
func removeIptables(prefix string) error {
	if _, err := exec.LookPath("iptables-save"); err != nil {
		return nil
	}
	var errs []error
	for _, table := range []string{"raw", "nat", "filter"} {
		saved, err := exec.Command("iptables-save", "-t", table).Output()
		if err != nil {
			continue // the table does not exist here
		}
		script := iptablesRemoval(table, string(saved), prefix)
		if script == "" {
			continue
		}
		cmd := exec.Command("iptables-restore", "-w", "--noflush")
		cmd.Stdin = strings.NewReader(script)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			errs = append(errs, fmt.Errorf("iptables-restore (table %s): %w: %s\n%s", table, err, stderr.String(), script))
		}
	}
	return errors.Join(errs...)
}

// iptablesRemoval is the iptables-restore input that removes prefix's
// chains and rules from one table's iptables-save output, or "" when there
// are none.
func iptablesRemoval(table, saved, prefix string) string {
	var chains []string
	isOurs := map[string]bool{}
	for _, line := range strings.Split(saved, "\n") {
		if name, ok := strings.CutPrefix(line, ":"); ok {
			name, _, _ = strings.Cut(name, " ")
			if strings.HasPrefix(name, prefix+"-") {
				chains = append(chains, name)
				isOurs[name] = true
			}
		}
	}
	var b strings.Builder
	for _, line := range strings.Split(saved, "\n") {
		rule, ok := strings.CutPrefix(line, "-A ")
		if !ok {
			continue
		}
		args := strings.Fields(rule)
		if isOurs[args[0]] {
			continue // flushed with its chain
		}
		mine := false
		for i := 1; i+1 < len(args); i++ {
			v := strings.Trim(args[i+1], `"`)
			switch args[i] {
			case "--comment":
				mine = mine || v == prefix || strings.HasPrefix(v, prefix+":")
			case "-j", "-g":
				mine = mine || isOurs[v]
			}
		}
		if mine {
			fmt.Fprintf(&b, "-D %s\n", rule)
		}
	}
	for _, c := range chains {
		fmt.Fprintf(&b, "-F %s\n", c)
	}
	for _, c := range chains {
		fmt.Fprintf(&b, "-X %s\n", c)
	}
	if b.Len() == 0 {
		return ""
	}
	return "*" + table + "\n" + b.String() + "COMMIT\n"
}
