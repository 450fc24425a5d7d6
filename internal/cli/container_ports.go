package cli

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/network"
)

// parsePorts reads -p and --expose as the docker CLI 28 does: -p is
// [ip:][hostPort:]containerPort[/proto] (ranges allowed, the address
// bracketed or not when IPv6) or the long form
// target=,published=,protocol=; --expose is port[-port][/proto]. Every
// published port is exposed.
func parsePorts(publish, expose []string) (network.PortSet, network.PortMap, error) {
	exposed := network.PortSet{}
	bindings := network.PortMap{}
	for _, spec := range publish {
		if strings.Contains(spec, "=") {
			var err error
			if spec, err = longPortSpec(spec); err != nil {
				return nil, nil, err
			}
		}
		if err := parsePortSpec(spec, exposed, bindings); err != nil {
			return nil, nil, err
		}
	}
	for _, e := range expose {
		if strings.Contains(e, ":") {
			return nil, nil, fmt.Errorf("invalid port format for --expose: %s", e)
		}
		proto, port := splitProtoPort(e)
		lo, hi, err := portRange(port)
		if err != nil {
			return nil, nil, fmt.Errorf("invalid range format for --expose: %s, error: %s", e, err)
		}
		for n := lo; ; n++ {
			if p, ok := network.PortFrom(n, network.IPProtocol(proto)); ok {
				exposed[p] = struct{}{}
			}
			if n == hi {
				break
			}
		}
	}
	return exposed, bindings, nil
}

// longPortSpec turns "target=80,published=8080,protocol=udp" into the short form.
func longPortSpec(spec string) (string, error) {
	params := map[string]string{"protocol": "tcp"}
	for _, kv := range strings.Split(spec, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return "", fmt.Errorf("invalid publish opts format (should be name=value but got '%s')", kv)
		}
		params[k] = v
	}
	return fmt.Sprintf("%s:%s/%s", params["published"], params["target"], params["protocol"]), nil
}

// parsePortSpec adds one -p value's ports, with the docker CLI's rules
// and words: the last colon-separated part is the container port, the one
// before it the host port, everything before that the address.
func parsePortSpec(spec string, exposed network.PortSet, bindings network.PortMap) error {
	rawIP, hostPart, ctrPart := splitPortParts(spec)
	proto, ctrPart := splitProtoPort(ctrPart)
	if rawIP != "" && rawIP[0] == '[' {
		host, _, err := net.SplitHostPort(rawIP + ":")
		if err != nil {
			return fmt.Errorf("invalid IP address %v: %w", rawIP, err)
		}
		rawIP = host
	}
	var hostIP netip.Addr
	if rawIP != "" {
		a, err := netip.ParseAddr(rawIP)
		if net.ParseIP(rawIP) == nil || err != nil {
			return errors.New("invalid IP address: " + rawIP)
		}
		hostIP = a
	}
	if ctrPart == "" {
		return fmt.Errorf("no port specified: %s<empty>", spec)
	}
	ctrLo, ctrHi, err := portRange(ctrPart)
	if err != nil {
		return errors.New("invalid containerPort: " + ctrPart)
	}
	var hostLo, hostHi uint16
	if hostPart != "" {
		if hostLo, hostHi, err = portRange(hostPart); err != nil {
			return errors.New("invalid hostPort: " + hostPart)
		}
		// A host range for one container port is the range to pick from.
		if ctrHi-ctrLo != hostHi-hostLo && ctrHi != ctrLo {
			return fmt.Errorf("invalid ranges specified for container and host Ports: %s and %s", ctrPart, hostPart)
		}
	}
	proto = strings.ToLower(proto)
	switch proto {
	case "tcp", "udp", "sctp":
	default:
		return fmt.Errorf("invalid proto: %s", proto)
	}
	for i := uint16(0); ; i++ {
		p, _ := network.PortFrom(ctrLo+i, network.IPProtocol(proto))
		exposed[p] = struct{}{}
		hostPort := ""
		if hostPart != "" {
			hostPort = strconv.Itoa(int(hostLo + i))
			if ctrLo == ctrHi && hostLo != hostHi {
				hostPort += "-" + strconv.Itoa(int(hostHi))
			}
		}
		bindings[p] = append(bindings[p], network.PortBinding{HostIP: hostIP, HostPort: hostPort})
		if ctrLo+i == ctrHi {
			return nil
		}
	}
}

// splitPortParts splits ip:hostPort:containerPort from the right, so an
// IPv6 address keeps its colons.
func splitPortParts(spec string) (ip, host, ctr string) {
	parts := strings.Split(spec, ":")
	n := len(parts)
	switch n {
	case 1:
		return "", "", parts[0]
	case 2:
		return "", parts[0], parts[1]
	case 3:
		return parts[0], parts[1], parts[2]
	}
	return strings.Join(parts[:n-2], ":"), parts[n-2], parts[n-1]
}

// splitProtoPort splits "80/udp"; the protocol defaults to tcp.
func splitProtoPort(raw string) (proto, port string) {
	parts := strings.Split(raw, "/")
	switch {
	case raw == "" || parts[0] == "":
		return "", ""
	case len(parts) == 1:
		return "tcp", raw
	case parts[1] == "":
		return "tcp", parts[0]
	}
	return parts[1], parts[0]
}

// portRange reads "80" or "8000-8010" with the docker CLI's errors.
func portRange(s string) (lo, hi uint16, err error) {
	if s == "" {
		return 0, 0, errors.New("empty string specified for ports")
	}
	a, b, isRange := strings.Cut(s, "-")
	l, err := strconv.ParseUint(a, 10, 16)
	if err != nil {
		return 0, 0, err
	}
	if !isRange {
		return uint16(l), uint16(l), nil
	}
	b, _, _ = strings.Cut(b, "-")
	h, err := strconv.ParseUint(b, 10, 16)
	if err != nil {
		return 0, 0, err
	}
	if h < l {
		return 0, 0, errors.New("invalid range specified for port: " + s)
	}
	return uint16(l), uint16(h), nil
}
