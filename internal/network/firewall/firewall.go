package firewall

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"

	"github.com/berth-project/berth/internal/errdefs"
)

// Net is one bridge network as the firewall sees it.
type Net struct {
	Bridge     string       // the Linux bridge's name; identifies the network here
	Subnet     netip.Prefix // IPv4 subnet of the bridge
	Internal   bool         // no traffic in or out of the bridge except to/from its own members
	ICC        bool         // containers on this bridge may talk to each other (docker's default: true)
	Masquerade bool         // outbound NAT for the subnet (default true; false for internal)
}

// Mapping is one published port: traffic to HostIP:HostPort (Proto) goes to
// ContainerIP:ContainerPort on Bridge.
type Mapping struct {
	Proto         string     // tcp|udp|sctp
	HostIP        netip.Addr // zero or 0.0.0.0 => every local address incl. 127.0.0.1 (hairpin); IPv6 => left out (IPv4 only)
	HostPort      uint16
	ContainerIP   netip.Addr
	ContainerPort uint16
	Bridge        string
}

// Backend installs the host's packet filtering and NAT for Berth's bridges
// and published ports.
//
// Lifecycle: New picks and returns a backend; Init (once per daemon start)
// creates our tables/chains and the user chain if absent and enables
// net.ipv4.ip_forward; then the daemon either calls Sync with the whole
// state it knows (daemon start, also after a crash: whatever was left
// behind is replaced by exactly that state) or incremental calls:
// SetNetwork/DeleteNetwork per bridge network, SetPorts/DeletePorts per
// endpoint (key = endpoint id). Teardown removes everything of ours.
//
// Terms: "ours" is every table, chain, rule, set element named from or
// tagged with the prefix given to New, except the user chain. The user
// chain belongs to the administrator: Berth creates it when it is absent
// and never flushes or deletes it (not in Init, Sync nor Teardown). Every
// forwarded packet, published-port traffic included, passes it before our
// rules accept it, so a drop rule there blocks a published port.
//
// Guarantees: containers on two different bridges cannot reach each
// other except through published ports; an Internal network has no
// traffic in or out except among its own members; a published port is
// reachable on every local address (or on HostIP), including 127.0.0.1
// from the host itself and the host's addresses from containers.
//
// Errors: InvalidParameter for a malformed Net or Mapping (bad protocol,
// zero port, non-IPv4 container address, empty bridge, one host port of a
// key sent to two places); Conflict when a mapping's host address,
// protocol and port are already published by another key; anything else
// is the kernel's or the tool's error, wrapped. A mapping given twice is
// installed once.
//
// Example:
//
//	fw, _ := firewall.New(ctx, "berth", "", log)
//	_ = fw.Init(ctx)
//	_ = fw.SetNetwork(ctx, firewall.Net{Bridge: "berth0", Subnet: p, ICC: true, Masquerade: true})
//	_ = fw.SetPorts(ctx, endpointID, []firewall.Mapping{{Proto: "tcp", HostPort: 8080,
//		ContainerIP: ip, ContainerPort: 80, Bridge: "berth0"}})
//	_ = fw.DeletePorts(ctx, endpointID) // container stopped
type Backend interface {
	// Name is "nftables", "iptables" or "none".
	Name() string
	// Init creates our table/chains and the user chain if absent (never
	// flushed) and sets net.ipv4.ip_forward=1. It keeps rules already
	// installed (live restore).
	Init(ctx context.Context) error
	// SetNetwork installs or replaces the rules of one bridge network
	// (idempotent).
	SetNetwork(ctx context.Context, n Net) error
	// DeleteNetwork removes the rules of the network on bridge; absent => nil.
	DeleteNetwork(ctx context.Context, bridge string) error
	// SetPorts atomically replaces key's mappings (key = endpoint id).
	SetPorts(ctx context.Context, key string, m []Mapping) error
	// DeletePorts removes key's mappings; absent => nil.
	DeletePorts(ctx context.Context, key string) error
	// Sync replaces everything of ours with exactly this state, in one
	// transaction where the backend has them (daemon start, after a crash).
	Sync(ctx context.Context, nets []Net, ports map[string][]Mapping) error
	// Teardown removes all of ours except the user chain (tests, uninstall).
	Teardown(ctx context.Context) error
}

// Backend names accepted by New's prefer.
const (
	Auto     = ""
	NFTables = "nftables"
	IPTables = "iptables"
	None     = "none"
)

// New returns the backend to use for the resource prefix: prefer "" picks
// nftables when the kernel's nf_tables answers over netlink and iptables
// otherwise; "nftables" and "iptables" insist on one (Unavailable when it
// cannot work here); "none" is a no-op backend (--iptables=false). New
// changes nothing on the host: Init does.
func New(ctx context.Context, prefix, prefer string, log *slog.Logger) (Backend, error) {
	if log == nil {
		log = slog.Default()
	}
	if err := validPrefix(prefix); err != nil {
		return nil, err
	}
	switch prefer {
	case None:
		return noneBackend{}, nil
	case NFTables:
		return newNFTables(ctx, prefix, log)
	case IPTables:
		return newIPTables(ctx, prefix, log)
	case Auto:
		b, err := newNFTables(ctx, prefix, log)
		if err == nil {
			return b, nil
		}
		log.Info("firewall: nftables unusable, falling back to iptables", "err", err)
		return newIPTables(ctx, prefix, log)
	default:
		return nil, errdefs.Errorf(errdefs.ErrInvalidParameter, "firewall: unknown backend %q (want nftables, iptables or none)", prefer)
	}
}

// validPrefix keeps names built from the prefix valid for every object we
// name with it: iptables chains hold 28 bytes, and "P-FWD-OUT" is our
// longest.
func validPrefix(prefix string) error {
	if prefix == "" || len(prefix) > 16 {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "firewall: prefix %q must be 1 to 16 characters", prefix)
	}
	for _, c := range prefix {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return errdefs.Errorf(errdefs.ErrInvalidParameter, "firewall: prefix %q: only letters, digits, '-' and '_'", prefix)
		}
	}
	return nil
}

func errUnavailable(backend string, err error) error {
	return fmt.Errorf("firewall: %s unusable: %w: %w", backend, err, errdefs.ErrUnavailable)
}
