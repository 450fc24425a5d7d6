package opts

import (
	"encoding/csv"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// NetworkAttachment is one --network value: a network and, in the long
// syntax (name=NET,alias=A,ip=IP,...), the endpoint's own settings, kept
// as typed (the caller checks them).
type NetworkAttachment struct {
	Target       string
	Aliases      []string
	DriverOpts   map[string]string
	Links        []string
	IPv4Address  string
	IPv6Address  string
	LinkLocalIPs []string
	MacAddress   string
	GwPriority   int
}

// Networks is the repeatable --network flag of run and create.
type Networks struct {
	values []NetworkAttachment
}

// longNetworkSyntax is how the docker CLI tells the long syntax from a
// plain name: a key=value pair anywhere in the value.
var longNetworkSyntax = regexp.MustCompile(`\w+=\w+(,\w+=\w+)*`)

// Set implements pflag.Value, with the docker CLI's parsing: the long
// syntax is CSV, its keys and values lower-cased and trimmed.
func (n *Networks) Set(v string) error {
	if !longNetworkSyntax.MatchString(v) {
		n.values = append(n.values, NetworkAttachment{Target: v})
		return nil
	}
	fields, err := csv.NewReader(strings.NewReader(v)).Read()
	if err != nil {
		return err
	}
	a := NetworkAttachment{Aliases: []string{}}
	for _, field := range fields {
		key, val, ok := strings.Cut(strings.ToLower(field), "=")
		if !ok || key == "" {
			return fmt.Errorf("invalid field %s", field)
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		switch key {
		case "name":
			a.Target = val
		case "alias":
			a.Aliases = append(a.Aliases, val)
		case "ip":
			a.IPv4Address = val
		case "ip6":
			a.IPv6Address = val
		case "mac-address":
			a.MacAddress = val
		case "link-local-ip":
			a.LinkLocalIPs = append(a.LinkLocalIPs, val)
		case "driver-opt":
			k, dv, ok := strings.Cut(val, "=")
			if !ok || k == "" {
				return errors.New("invalid key value map")
			}
			if a.DriverOpts == nil {
				a.DriverOpts = map[string]string{}
			}
			a.DriverOpts[strings.TrimSpace(k)] = strings.TrimSpace(dv)
		case "gw-priority":
			p, err := strconv.Atoi(val)
			if err != nil {
				var numErr *strconv.NumError
				if errors.As(err, &numErr) {
					err = numErr.Err
				}
				return fmt.Errorf("invalid gw-priority (%s): %w", val, err)
			}
			a.GwPriority = p
		default:
			return errors.New("invalid field key " + key)
		}
	}
	if a.Target == "" {
		return errors.New("network name/id is not specified")
	}
	n.values = append(n.values, a)
	return nil
}

// String implements pflag.Value.
func (n *Networks) String() string {
	if len(n.values) == 0 {
		return ""
	}
	names := make([]string, len(n.values))
	for i, v := range n.values {
		names[i] = v.Target
	}
	return fmt.Sprintf("%v", names)
}

// Type implements pflag.Value.
func (*Networks) Type() string { return "network" }

// Values are the networks given, in order.
func (n *Networks) Values() []NetworkAttachment { return n.values }
