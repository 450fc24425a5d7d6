package network

import (
	"log/slog"
	"net"
	"net/netip"
	"time"
)

// Config is what the daemon tells the Manager; New fills the defaults.
type Config struct {
	Root, ExecRoot string // <data-root>/network, <exec-root>/netns
	// RunRoot holds the endpoint records, which no reboot outlives: a
	// tmpfs keeps the disk off the start path. "" => <ExecRoot>/../network.
	RunRoot string
	Prefix  string // resource prefix of every host-global name
	// DefaultBridge is --bridge: "" => Prefix+"0"; "none" => no default
	// bridge network.
	DefaultBridge string
	// BIP is --bip (gateway address/len); zero => choose.
	BIP netip.Prefix
	// DefaultAddressPools is --default-address-pool; nil => docker's.
	DefaultAddressPools []AddressPool
	MTU                 int    // 0 => 1500
	Firewall            string // "" auto, "nftables", "iptables", "none" (--iptables=false)
	// DNSUpstreams overrides the host's resolvers (tests); nil => the
	// host's, from /etc/resolv.conf minus loopback ones.
	DNSUpstreams []netip.AddrPort
	Logger       *slog.Logger
}

// AddressPool is one --default-address-pool: subnets of Size bits are cut
// out of Base.
type AddressPool struct {
	Base netip.Prefix
	Size int
}

// Network is one network as the Manager keeps it.
type Network struct {
	ID, Name, Driver                 string // driver "bridge" | "host" | "null"
	Scope                            string // "local"
	Subnet                           netip.Prefix
	Gateway                          netip.Addr
	IPRange                          netip.Prefix
	Internal, Attachable, EnableIPv6 bool
	Labels, Options                  map[string]string
	Bridge                           string // the Linux bridge's name
	Created                          time.Time
	Predefined                       bool // bridge, host, none
	// UserSubnet is true when the user gave the subnet: only then may an
	// endpoint ask for a fixed address (docker's rule).
	UserSubnet bool `json:",omitempty"`
}

// CreateRequest is a user's `network create`.
type CreateRequest struct {
	Name, Driver         string // driver "" or "bridge"
	Subnet, IPRange      netip.Prefix
	Gateway              netip.Addr
	Internal, Attachable bool
	// Options: com.docker.network.bridge.name, .enable_icc,
	// .enable_ip_masquerade, .host_binding_ipv4,
	// com.docker.network.driver.mtu.
	Labels, Options map[string]string
}

// PortBinding is one published port.
type PortBinding struct {
	Proto         string     // "tcp" | "udp" | "sctp"
	ContainerPort uint16     //
	HostIP        netip.Addr // zero => all addresses
	HostPort      uint16     // 0 => pick a free one; Connect returns the chosen one
}

// EndpointConfig is what Connect needs to attach a container to a network.
type EndpointConfig struct {
	ContainerID, ContainerName, Hostname string
	Network                              string           // id or name
	Aliases                              []string         // user networks only
	IPv4                                 netip.Addr       // --ip; zero => allocate
	MAC                                  net.HardwareAddr // nil => 02:42:<ip bytes>
	Ports                                []PortBinding
	DefaultRoute                         bool             // this endpoint carries the default route
	Upstreams                            []netip.AddrPort // container's --dns servers (nil => host's)
}

// Endpoint is a container's attachment to one network.
type Endpoint struct {
	ID, NetworkID, NetworkName, ContainerID string
	IfName                                  string // eth0, eth1, ... inside the sandbox
	HostIfName                              string
	Address                                 netip.Prefix // ip/len
	Gateway                                 netip.Addr
	MAC                                     net.HardwareAddr
	Aliases                                 []string
	Ports                                   []PortBinding // HostPort resolved
	DNS                                     netip.Addr    // embedded resolver; zero on the default bridge
}
