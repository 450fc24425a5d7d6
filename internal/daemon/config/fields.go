package config

import (
	"maps"
	"slices"
)

// Maps merge key by key (the later source wins for a key), so a
// --log-opt flag adds to the file's log-opts instead of dropping them.
//
// fieldCopiers copy one setting from src to dst, keyed by its daemon.json
// name; a flag of the same name copies the same field. This one table is
// what makes "flag > file > default" hold field by field.
var fieldCopiers = map[string]func(dst, src *Config){
	"hosts":                 func(d, s *Config) { d.Hosts = slices.Clone(s.Hosts) },
	"group":                 func(d, s *Config) { d.SocketGroup = s.SocketGroup },
	"data-root":             func(d, s *Config) { d.DataRoot = s.DataRoot },
	"exec-root":             func(d, s *Config) { d.ExecRoot = s.ExecRoot },
	"pidfile":               func(d, s *Config) { d.Pidfile = s.Pidfile },
	"log-level":             func(d, s *Config) { d.LogLevel = s.LogLevel },
	"default-runtime":       func(d, s *Config) { d.DefaultRuntime = s.DefaultRuntime },
	"runtimes":              func(d, s *Config) { d.Runtimes = merge(d.Runtimes, s.Runtimes) },
	"insecure-registries":   func(d, s *Config) { d.InsecureRegistries = slices.Clone(s.InsecureRegistries) },
	"registry-mirrors":      func(d, s *Config) { d.RegistryMirrors = slices.Clone(s.RegistryMirrors) },
	"live-restore":          func(d, s *Config) { d.LiveRestore = s.LiveRestore },
	"log-driver":            func(d, s *Config) { d.LogDriver = s.LogDriver },
	"log-opts":              func(d, s *Config) { d.LogOpts = merge(d.LogOpts, s.LogOpts) },
	"default-ulimits":       func(d, s *Config) { d.DefaultUlimits = merge(d.DefaultUlimits, s.DefaultUlimits) },
	"storage-driver":        func(d, s *Config) { d.StorageDriver = s.StorageDriver },
	"bridge":                func(d, s *Config) { d.Bridge = s.Bridge },
	"bip":                   func(d, s *Config) { d.BIP = s.BIP },
	"default-address-pools": func(d, s *Config) { d.DefaultAddressPools = slices.Clone(s.DefaultAddressPools) },
	"dns":                   func(d, s *Config) { d.DNS = slices.Clone(s.DNS) },
	"dns-search":            func(d, s *Config) { d.DNSSearch = slices.Clone(s.DNSSearch) },
	"dns-opts":              func(d, s *Config) { d.DNSOptions = slices.Clone(s.DNSOptions) },
	"iptables":              func(d, s *Config) { d.IPTables = s.IPTables },
	"ip-forward":            func(d, s *Config) { d.IPForward = s.IPForward },
	"mtu":                   func(d, s *Config) { d.MTU = s.MTU },
	"userland-proxy":        func(d, s *Config) { d.UserlandProxy = s.UserlandProxy },
	"cgroup-parent":         func(d, s *Config) { d.CgroupParent = s.CgroupParent },
	"resource-prefix":       func(d, s *Config) { d.ResourcePrefix = s.ResourcePrefix },
	"tls":                   func(d, s *Config) { d.TLS = s.TLS },
	"tlsverify":             func(d, s *Config) { d.TLSVerify = s.TLSVerify },
	"tlscacert":             func(d, s *Config) { d.TLSCACert = s.TLSCACert },
	"tlscert":               func(d, s *Config) { d.TLSCert = s.TLSCert },
	"tlskey":                func(d, s *Config) { d.TLSKey = s.TLSKey },
	"shutdown-timeout":      func(d, s *Config) { d.ShutdownTimeout = s.ShutdownTimeout },
	"shim-hibernate-after":  func(d, s *Config) { d.ShimHibernateAfter = s.ShimHibernateAfter },
}

func jsonKeys() []string {
	return slices.Sorted(maps.Keys(fieldCopiers))
}

func merge[V any](dst, src map[string]V) map[string]V {
	out := maps.Clone(dst)
	if out == nil {
		out = map[string]V{}
	}
	maps.Copy(out, src)
	return out
}
