package cli

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/network"
)

// parsePorts reads -p ([ip:][hostPort:]containerPort[/proto], ranges
// allowed) and --expose (port or range). Every published port is exposed.
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
		pr, err := network.ParsePortRange(e)
		if err != nil {
			return nil, nil, fmt.Errorf("invalid range format for --expose: %w", err)
		}
		for p := range pr.All() {
			exposed[p] = struct{}{}
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

func parsePortSpec(spec string, exposed network.PortSet, bindings network.PortMap) error {
	raw, proto, hasProto := strings.Cut(spec, "/")
	if !hasProto {
		proto = "tcp"
	}
	var ip, hostPart, ctrPart string
	if strings.HasPrefix(raw, "[") {
		end := strings.Index(raw, "]:")
		if end < 0 {
			return fmt.Errorf("invalid IP address: %s", raw)
		}
		ip = raw[1:end]
		rest := raw[end+2:]
		var ok bool
		if hostPart, ctrPart, ok = strings.Cut(rest, ":"); !ok {
			return fmt.Errorf("invalid port format for --publish: %s", spec)
		}
	} else {
		parts := strings.Split(raw, ":")
		switch len(parts) {
		case 1:
			ctrPart = parts[0]
		case 2:
			hostPart, ctrPart = parts[0], parts[1]
		case 3:
			ip, hostPart, ctrPart = parts[0], parts[1], parts[2]
		default:
			return fmt.Errorf("invalid port format for --publish: %s", spec)
		}
	}
	var hostIP netip.Addr
	if ip != "" {
		var err error
		if hostIP, err = netip.ParseAddr(ip); err != nil {
			return fmt.Errorf("invalid IP address: %s", ip)
		}
	}
	if ctrPart == "" {
		return fmt.Errorf("no port specified: %s<empty>", spec)
	}
	ctrLo, ctrHi, err := portRange(ctrPart)
	if err != nil {
		return fmt.Errorf("invalid containerPort: %s", ctrPart)
	}
	var hostLo, hostHi uint16
	if hostPart != "" {
		if hostLo, hostHi, err = portRange(hostPart); err != nil {
			return fmt.Errorf("invalid hostPort: %s", hostPart)
		}
	}
	if hostPart != "" && ctrHi-ctrLo != hostHi-hostLo && ctrHi != ctrLo {
		return fmt.Errorf("invalid ranges specified for container and host Ports: %s and %s", ctrPart, hostPart)
	}
	switch strings.ToLower(proto) {
	case "tcp", "udp", "sctp":
	default:
		return fmt.Errorf("invalid proto: %s", proto)
	}
	for i := uint16(0); ctrLo+i <= ctrHi && ctrLo+i >= ctrLo; i++ {
		p, ok := network.PortFrom(ctrLo+i, network.IPProtocol(strings.ToLower(proto)))
		if !ok {
			return fmt.Errorf("invalid containerPort: %s", ctrPart)
		}
		exposed[p] = struct{}{}
		hostPort := ""
		switch {
		case hostPart == "":
		case ctrLo == ctrHi && hostLo != hostHi:
			hostPort = hostPart // one container port, any host port of the range
		default:
			hostPort = strconv.Itoa(int(hostLo + i))
		}
		bindings[p] = append(bindings[p], network.PortBinding{HostIP: hostIP, HostPort: hostPort})
		if ctrHi == ctrLo+i {
			break
		}
	}
	return nil
}

func portRange(s string) (lo, hi uint16, err error) {
	a, b, isRange := strings.Cut(s, "-")
	l, err := strconv.ParseUint(a, 10, 16)
	if err != nil {
		return 0, 0, err
	}
	h := l
	if isRange {
		if h, err = strconv.ParseUint(b, 10, 16); err != nil {
			return 0, 0, err
		}
		if h < l {
			return 0, 0, errors.New("invalid range")
		}
	}
	return uint16(l), uint16(h), nil
}
