package cli

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/network"
	sdk "github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

func newPortCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "port CONTAINER [PRIVATE_PORT[/PROTO]]",
		Short: "List port mappings or a specific mapping for the container",
		Args:  rangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			res, err := c.ContainerInspect(cmd.Context(), args[0], sdk.ContainerInspectOptions{})
			if err != nil {
				return err
			}
			var ports network.PortMap
			if res.Container.NetworkSettings != nil {
				ports = res.Container.NetworkSettings.Ports
			}
			var lines []string
			if len(args) == 2 {
				// As docker: the number must parse, the protocol is
				// matched as typed (tcp when absent).
				num, proto, _ := strings.Cut(args[1], "/")
				if proto == "" {
					proto = "tcp"
				}
				if _, err := strconv.ParseUint(num, 10, 16); err != nil {
					return fmt.Errorf("Error: invalid port (%s): %w", num, err) //nolint:staticcheck // docker's wording
				}
				var bindings []network.PortBinding
				ok := false
				for p, b := range ports {
					if p.String() == num+"/"+proto {
						bindings, ok = b, true
					}
				}
				if !ok || len(bindings) == 0 {
					return fmt.Errorf("Error: No public port '%s' published for %s", args[1], args[0]) //nolint:staticcheck // docker's wording
				}
				for _, b := range bindings {
					lines = append(lines, hostAddr(b))
				}
			} else {
				for p, bindings := range ports {
					for _, b := range bindings {
						lines = append(lines, fmt.Sprintf("%s -> %s", p, hostAddr(b)))
					}
				}
			}
			if len(lines) > 0 {
				sort.Slice(lines, func(i, j int) bool { return naturalLess(lines[i], lines[j]) })
				fmt.Fprintln(a.streams.Out, strings.Join(lines, "\n"))
			}
			return nil
		},
		Annotations:           map[string]string{"aliases": "berth container port, berth port"},
		DisableFlagsInUseLine: true,
	}
}

func hostAddr(b network.PortBinding) string {
	ip := ""
	if b.HostIP.IsValid() {
		ip = b.HostIP.String()
	}
	return net.JoinHostPort(ip, b.HostPort)
}

// naturalLess orders strings with their digit runs compared as numbers,
// so "80/tcp" comes before "443/tcp".
func naturalLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := digitRun(a), digitRun(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if len(na) != len(nb) {
				return len(na) < len(nb)
			}
			if na != nb {
				return na < nb
			}
			a, b = a[da:], b[db:]
			continue
		}
		// As docker's sortorder.NaturalLess: digits sort before any other
		// character ("d58..." before "d-a").
		if (da > 0) != (db > 0) {
			return da > 0
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func digitRun(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}
