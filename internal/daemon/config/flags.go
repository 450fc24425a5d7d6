package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/docker/go-units"
	"github.com/spf13/pflag"

	"github.com/berth-project/berth/internal/errdefs"
)

// DefaultConfigFile is read when --config-file is not given, if it exists.
const DefaultConfigFile = "/etc/berth/daemon.json"

// Flags are berthd's command-line flags bound to a Config.
type Flags struct {
	fs     *pflag.FlagSet
	set    Config
	debug  bool
	rtimes []string
	opts   []string
	ulims  []string
	pools  []string
}

// flagKeys maps a flag to the daemon.json key of the setting it sets,
// where the names differ.
var flagKeys = map[string]string{
	"host":                 "hosts",
	"insecure-registry":    "insecure-registries",
	"registry-mirror":      "registry-mirrors",
	"add-runtime":          "runtimes",
	"log-opt":              "log-opts",
	"default-ulimit":       "default-ulimits",
	"debug":                "log-level",
	"default-address-pool": "default-address-pools",
	"dns-opt":              "dns-opts",
}

// AddFlags defines berthd's flags on fs, with dockerd's names.
func AddFlags(fs *pflag.FlagSet) *Flags {
	f := &Flags{fs: fs}
	d := Default()
	c := &f.set
	fs.StringSliceVarP(&c.Hosts, "host", "H", nil, "Daemon socket(s) to listen on (unix:///path, tcp://host:port; default "+DefaultSocket(d.ExecRoot)+")")
	fs.StringVarP(&c.SocketGroup, "group", "G", d.SocketGroup, "Group owning the unix sockets, if it exists")
	fs.StringVar(&c.DataRoot, "data-root", d.DataRoot, "Root directory of persistent state")
	fs.StringVar(&c.ExecRoot, "exec-root", d.ExecRoot, "Root directory of execution state (shims, bundles)")
	fs.StringVarP(&c.Pidfile, "pidfile", "p", "", "Path of the daemon's PID file")
	fs.StringVar(&c.ConfigFile, "config-file", DefaultConfigFile, "Daemon configuration file")
	fs.StringVarP(&c.LogLevel, "log-level", "l", d.LogLevel, `Logging level ("debug"|"info"|"warn"|"error"|"fatal")`)
	fs.BoolVarP(&f.debug, "debug", "D", false, "Debug logging (same as --log-level=debug)")
	fs.StringVar(&c.DefaultRuntime, "default-runtime", d.DefaultRuntime, "Default OCI runtime for containers")
	fs.StringArrayVar(&f.rtimes, "add-runtime", nil, "Register an additional OCI runtime (name=path)")
	fs.StringSliceVar(&c.InsecureRegistries, "insecure-registry", nil, "Registries reached over plain HTTP or unverified TLS")
	fs.StringSliceVar(&c.RegistryMirrors, "registry-mirror", nil, "Preferred registry mirror")
	fs.BoolVar(&c.LiveRestore, "live-restore", d.LiveRestore, "Keep containers running while the daemon is down")
	fs.StringVar(&c.LogDriver, "log-driver", d.LogDriver, "Default log driver of containers (json-file, local, none)")
	fs.StringArrayVar(&f.opts, "log-opt", nil, "Default log driver options (key=value)")
	fs.StringArrayVar(&f.ulims, "default-ulimit", nil, "Default ulimits of containers (name=soft[:hard])")
	fs.StringVarP(&c.StorageDriver, "storage-driver", "s", "", "Storage driver (overlay2, overlay, native, vfs)")
	fs.StringVarP(&c.Bridge, "bridge", "b", "", `Name of the default bridge ("none": no default bridge network; default "<resource-prefix>0")`)
	fs.StringVar(&c.BIP, "bip", "", "Default bridge's gateway address and prefix length (CIDR, e.g. 10.10.0.1/24)")
	fs.StringArrayVar(&f.pools, "default-address-pool", nil, "Default address pool of user networks (base=CIDR,size=N)")
	fs.StringArrayVar(&c.DNS, "dns", nil, "DNS server for containers")
	fs.StringArrayVar(&c.DNSSearch, "dns-search", nil, "DNS search domain for containers")
	fs.StringArrayVar(&c.DNSOptions, "dns-opt", nil, "DNS option for containers")
	fs.BoolVar(&c.IPTables, "iptables", d.IPTables, "Manage the firewall (NAT, published ports, isolation) with nftables or iptables")
	fs.BoolVar(&c.IPForward, "ip-forward", d.IPForward, "Enable net.ipv4.ip_forward")
	fs.IntVar(&c.MTU, "mtu", 0, "MTU of the default bridge and containers' interfaces (default 1500)")
	fs.BoolVar(&c.UserlandProxy, "userland-proxy", d.UserlandProxy, "Accepted for dockerd compatibility; Berth publishes ports through the firewall only")
	fs.StringVar(&c.CgroupParent, "cgroup-parent", "", `Parent cgroup of containers (default "/<resource-prefix>")`)
	fs.StringVar(&c.ResourcePrefix, "resource-prefix", d.ResourcePrefix, "Prefix of every host-global name the daemon makes (cgroups, bridges, nftables)")
	fs.BoolVar(&c.TLS, "tls", false, "Use TLS; implied by --tlsverify")
	fs.BoolVar(&c.TLSVerify, "tlsverify", false, "Use TLS and verify clients' certificates")
	fs.StringVar(&c.TLSCACert, "tlscacert", "", "Trust certificates signed by this CA")
	fs.StringVar(&c.TLSCert, "tlscert", "", "Path to the TLS certificate file")
	fs.StringVar(&c.TLSKey, "tlskey", "", "Path to the TLS key file")
	fs.IntVar(&c.ShutdownTimeout, "shutdown-timeout", d.ShutdownTimeout, "Seconds to wait for containers to stop at shutdown (without live restore)")
	fs.StringVar(&c.ShimHibernateAfter, "shim-hibernate-after", d.ShimHibernateAfter, `Idle time after which a running container's shim hibernates ("0": never)`)
	return f
}

// Resolve builds the configuration: Default, then the config file (the
// default path only if it exists), then every flag the command line set.
// It validates the result. Warnings are for settings accepted but unused.
func (f *Flags) Resolve() (Config, []string, error) {
	flagged, err := f.flagged()
	if err != nil {
		return Config{}, nil, err
	}
	c := Default()
	var warnings []string
	path := flagged.ConfigFile
	if path != "" {
		file, err := apply(&c, path)
		switch {
		case errdefs.IsNotFound(err) && !f.fs.Changed("config-file"):
		case err != nil:
			return Config{}, nil, err
		}
		warnings = file.Warnings
	}
	c.ConfigFile = path
	f.fs.Visit(func(fl *pflag.Flag) {
		key := fl.Name
		if k, ok := flagKeys[key]; ok {
			key = k
		}
		if cp, ok := fieldCopiers[key]; ok {
			cp(&c, &flagged)
		}
	})
	if err := c.Validate(); err != nil {
		return Config{}, warnings, err
	}
	return c, warnings, nil
}

// flagged is the flags' values with the list flags parsed into their
// fields.
func (f *Flags) flagged() (Config, error) {
	c := f.set
	if f.debug {
		c.LogLevel = "debug"
	}
	c.Runtimes = map[string]Runtime{}
	for _, v := range f.rtimes {
		name, path, ok := strings.Cut(v, "=")
		if !ok || name == "" || path == "" {
			return c, errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid --add-runtime %q: want name=path", v)
		}
		if _, dup := c.Runtimes[name]; dup {
			return c, errdefs.Errorf(errdefs.ErrInvalidParameter, "runtime %q given twice", name)
		}
		c.Runtimes[name] = Runtime{Path: path}
	}
	c.LogOpts = map[string]string{}
	for _, v := range f.opts {
		k, val, ok := strings.Cut(v, "=")
		if !ok || k == "" {
			return c, errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid --log-opt %q: want key=value", v)
		}
		c.LogOpts[k] = val
	}
	c.DefaultUlimits = map[string]*units.Ulimit{}
	for _, v := range f.ulims {
		u, err := units.ParseUlimit(v)
		if err != nil {
			return c, errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid --default-ulimit %q: %v", v, err)
		}
		c.DefaultUlimits[u.Name] = u
	}
	c.DefaultAddressPools = nil
	for _, v := range f.pools {
		p, err := ParseAddressPool(v)
		if err != nil {
			return c, err
		}
		c.DefaultAddressPools = append(c.DefaultAddressPools, p)
	}
	c.Hosts = slices.Clone(c.Hosts)
	return c, nil
}

// ParseAddressPool parses a --default-address-pool value as dockerd does:
// base=CIDR,size=N.
func ParseAddressPool(v string) (AddressPool, error) {
	var p AddressPool
	for _, kv := range strings.Split(v, ",") {
		k, val, _ := strings.Cut(strings.TrimSpace(kv), "=")
		switch strings.ToLower(k) {
		case "base":
			p.Base = val
		case "size":
			n, err := strconv.Atoi(val)
			if err != nil {
				return p, errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid --default-address-pool %q: size %q is not a number", v, val)
			}
			p.Size = n
		default:
			return p, errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid --default-address-pool %q: unexpected key %q (want base=CIDR,size=N)", v, k)
		}
	}
	return p, nil
}

// String is for debugging.
func (f *Flags) String() string { return fmt.Sprintf("%+v", f.set) }
