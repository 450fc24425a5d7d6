package firewall

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// iptablesCmd runs one of the iptables tools and returns its output. The
// iptables backend is the fallback (and the FORWARD policy workaround is
// rare): exec is acceptable there, not on the nftables path.
func iptablesCmd(ctx context.Context, tool string, args ...string) (string, error) {
	return iptablesInput(ctx, nil, tool, args...)
}

func iptablesInput(ctx context.Context, stdin []byte, tool string, args ...string) (string, error) {
	if tool == "iptables" || tool == "iptables-restore" {
		// Wait for the xtables lock instead of failing when another
		// program (or a parallel call of ours) holds it.
		args = append([]string{"-w"}, args...)
	}
	cmd := exec.CommandContext(ctx, tool, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %w: %s", tool, strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// splitSaved splits one iptables-save line into arguments, honouring the
// double quotes iptables-save puts around strings with spaces.
func splitSaved(line string) []string {
	var args []string
	var cur strings.Builder
	inQuote, have := false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\\' && inQuote && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
		case c == '"':
			inQuote = !inQuote
			have = true
		case c == ' ' && !inQuote:
			if have {
				args = append(args, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteByte(c)
			have = true
		}
	}
	if have {
		args = append(args, cur.String())
	}
	return args
}

// commentValue returns the text of a saved rule's --comment after prefix,
// when the comment starts with prefix.
func commentValue(line, prefix string) (string, bool) {
	args := splitSaved(line)
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "--comment" {
			return strings.CutPrefix(args[i+1], prefix)
		}
	}
	return "", false
}
