package server

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/moby/moby/api/types/network"

	"github.com/berth-project/berth/internal/errdefs"
)

// createNetworkWire is POST /networks/create's body as clients send it.
// It mirrors network.CreateRequest but reads the IPAM addresses as
// strings, so that a bad subnet gets dockerd's message (which names the
// field and says what is wrong) rather than a JSON decoding error.
type createNetworkWire struct {
	Name       string
	Driver     string
	Scope      string
	EnableIPv4 *bool
	EnableIPv6 *bool
	IPAM       *ipamWire
	Internal   bool
	Attachable bool
	Ingress    bool
	ConfigOnly bool
	ConfigFrom *network.ConfigReference
	Options    map[string]string
	Labels     map[string]string
	// CheckDuplicate was sent before API 1.44. Since then dockerd refuses
	// a duplicate name whatever it says, at every API version; it is
	// decoded only so that a value of the wrong type is still refused.
	CheckDuplicate *bool
}

type ipamWire struct {
	Driver  string
	Options map[string]string
	Config  []ipamConfigWire
}

type ipamConfigWire struct {
	Subnet     string
	IPRange    string
	Gateway    string
	AuxAddress map[string]string `json:"AuxiliaryAddresses"`
}

// The driver options that stand for EnableIPv4 and EnableIPv6 when those
// are not set, as in dockerd.
const (
	optionEnableIPv4 = "com.docker.network.enable_ipv4"
	optionEnableIPv6 = "com.docker.network.enable_ipv6"
)

// maxNetworkName bounds a network's name. dockerd has no bound; names
// end up in files, events and DNS, and no honest client sends more.
const maxNetworkName = 255

// request checks the body's shape, as dockerd does before it asks the
// network controller, and turns it into the backend's request. Whether
// the driver exists, the name is free or the subnet overlaps another is
// the backend's to say.
func (w *createNetworkWire) request(version string) (network.CreateRequest, error) {
	if err := checkNetworkName(w.Name); err != nil {
		return network.CreateRequest{}, invalidf("invalid name: %v", err)
	}
	if isPredefinedNetwork(w.Name) {
		return network.CreateRequest{}, errdefs.Errorf(errdefs.ErrForbidden, "operation is not permitted on predefined %s network ", w.Name)
	}
	if before(version, "1.48") {
		w.EnableIPv4 = nil // the field arrived in 1.48
	}
	enableIPv6 := false
	for _, o := range []struct {
		field *bool
		key   string
		value *bool
	}{{w.EnableIPv4, optionEnableIPv4, nil}, {w.EnableIPv6, optionEnableIPv6, &enableIPv6}} {
		b := o.field != nil && *o.field
		if v, ok := w.Options[o.key]; ok && o.field == nil {
			var err error
			if b, err = strconv.ParseBool(v); err != nil {
				return network.CreateRequest{}, invalidf("driver-opt %q is not a valid bool", o.key)
			}
		}
		if o.value != nil {
			*o.value = b
		}
	}
	req := network.CreateRequest{
		Name: w.Name, Driver: w.Driver, Scope: w.Scope,
		EnableIPv4: w.EnableIPv4, EnableIPv6: w.EnableIPv6,
		Internal: w.Internal, Attachable: w.Attachable, Ingress: w.Ingress,
		ConfigOnly: w.ConfigOnly, ConfigFrom: w.ConfigFrom,
		Options: w.Options, Labels: w.Labels,
	}
	if w.IPAM != nil {
		ipam, err := w.IPAM.ipam(enableIPv6)
		if err != nil {
			return network.CreateRequest{}, err
		}
		req.IPAM = ipam
	}
	return req, nil
}

// checkNetworkName is dockerd's rule (not blank) plus what no network
// name may hold in Berth: control characters, invalid UTF-8, or more
// than maxNetworkName bytes.
func checkNetworkName(name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return errors.New("network name is empty")
	case len(name) > maxNetworkName:
		return fmt.Errorf("network name is longer than %d bytes", maxNetworkName)
	case !utf8.ValidString(name):
		return fmt.Errorf("network name %q is not valid UTF-8", name)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return fmt.Errorf("network name %q holds control characters", name)
	}
	return nil
}

// isPredefinedNetwork is dockerd's list of names no user network may
// take, whether or not the daemon has those networks.
func isPredefinedNetwork(name string) bool {
	switch name {
	case network.NetworkBridge, network.NetworkHost, network.NetworkNone, network.NetworkDefault:
		return true
	}
	return false
}

// ipam validates the IPAM configuration with dockerd's checks and
// messages (every problem listed, not the first), then parses it. IPv6
// blocks are only checked when IPv6 is enabled, as in dockerd; they must
// still parse.
func (w *ipamWire) ipam(enableIPv6 bool) (*network.IPAM, error) {
	var errs []string
	out := &network.IPAM{Driver: w.Driver, Options: w.Options, Config: make([]network.IPAMConfig, 0, len(w.Config))}
	for _, c := range w.Config {
		subnet, err := netip.ParsePrefix(c.Subnet)
		if err != nil {
			errs = append(errs, fmt.Sprintf("invalid subnet %s: invalid CIDR block notation", c.Subnet))
			continue
		}
		cfg := network.IPAMConfig{Subnet: subnet}
		family := "IPv4"
		if subnet.Addr().Is6() {
			family = "IPv6"
		}
		check := family == "IPv4" || enableIPv6
		if check && subnet != subnet.Masked() {
			errs = append(errs, fmt.Sprintf("invalid subnet %s: it should be %s", subnet, subnet.Masked()))
		}
		if c.IPRange != "" {
			r, err := netip.ParsePrefix(c.IPRange)
			switch {
			case err != nil:
				errs = append(errs, fmt.Sprintf("invalid ip-range %s: invalid CIDR block notation", c.IPRange))
			case check:
				errs = append(errs, ipRangeProblems(c.IPRange, r, subnet, family)...)
			}
			cfg.IPRange = r
		}
		if c.Gateway != "" {
			gw, problem := addressProblem(c.Gateway, subnet, family, check)
			if problem != "" {
				errs = append(errs, fmt.Sprintf("invalid gateway %s: %s", c.Gateway, problem))
			}
			cfg.Gateway = gw
		}
		for name, a := range c.AuxAddress {
			addr, problem := addressProblem(a, subnet, family, check)
			if problem != "" {
				errs = append(errs, fmt.Sprintf("invalid auxiliary address %s: %s", name, problem))
				continue
			}
			if cfg.AuxAddress == nil {
				cfg.AuxAddress = map[string]netip.Addr{}
			}
			cfg.AuxAddress[name] = addr
		}
		out.Config = append(out.Config, cfg)
	}
	switch len(errs) {
	case 0:
		return out, nil
	case 1:
		return nil, invalidf("invalid network config:\n%s", errs[0])
	}
	return nil, invalidf("invalid network config:\n* %s", strings.Join(errs, "\n* "))
}

func ipRangeProblems(raw string, r, subnet netip.Prefix, family string) []string {
	if r.Addr().Is6() != subnet.Addr().Is6() {
		return []string{fmt.Sprintf("invalid ip-range %s: parent subnet is an %s block", raw, family)}
	}
	var errs []string
	if r.Bits() < subnet.Bits() {
		errs = append(errs, fmt.Sprintf("invalid ip-range %s: CIDR block is bigger than its parent subnet %s", raw, subnet))
	}
	if r != r.Masked() {
		errs = append(errs, fmt.Sprintf("invalid ip-range %s: it should be %s", r, r.Masked()))
	}
	if !subnet.Overlaps(r) {
		errs = append(errs, fmt.Sprintf("invalid ip-range %s: parent subnet %s doesn't contain ip-range", raw, subnet))
	}
	return errs
}

// addressProblem parses an address of a subnet and says what is wrong
// with it ("" for nothing); only parsing is checked when check is false.
func addressProblem(raw string, subnet netip.Prefix, family string, check bool) (netip.Addr, string) {
	a, err := netip.ParseAddr(raw)
	if err != nil {
		return netip.Addr{}, "invalid address"
	}
	if !check {
		return a, ""
	}
	if a.Is6() != subnet.Addr().Is6() {
		return a, fmt.Sprintf("parent subnet is an %s block", family)
	}
	if !subnet.Contains(a) {
		return a, fmt.Sprintf("parent subnet %s doesn't contain this address", subnet)
	}
	return a, ""
}
