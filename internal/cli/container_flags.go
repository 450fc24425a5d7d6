package cli

import (
	"time"

	"github.com/spf13/pflag"

	"github.com/berth-project/berth/internal/cli/opts"
)

// containerOptions are the flags run and create share: everything that
// becomes the container's Config, HostConfig and NetworkingConfig.
type containerOptions struct {
	attach            *opts.List
	deviceCgroupRules *opts.List
	devices           *opts.List
	env               *opts.List
	envFile           *opts.List
	groupAdd          *opts.List
	labels            *opts.List
	labelFile         *opts.List
	capAdd            *opts.List
	capDrop           *opts.List
	securityOpt       *opts.List
	addHost           *opts.List
	dns               *opts.List
	dnsOptions        *opts.List
	dnsSearch         *opts.List
	expose            *opts.List
	publish           *opts.List
	logOpts           *opts.List
	storageOpt        *opts.List
	tmpfs             *opts.List
	volumes           *opts.List
	volumesFrom       *opts.List
	links             *opts.List
	networks          *opts.Networks
	aliases           *opts.List
	linkLocalIPs      *opts.List
	sysctls           *opts.Map
	annotations       *opts.Map
	ulimits           *opts.Ulimits
	mounts            opts.Mounts

	entrypoint, hostname, domainname, user, workdir string
	stdin, tty, readOnly, autoRemove, privileged    bool
	publishAll, init, oomKillDisable, noHealthcheck bool
	restart, stopSignal                             string
	stopTimeout                                     int
	usernsMode, cgroupnsMode, pidMode, ipcMode      string
	utsMode, cgroupParent, runtime, isolation       string
	logDriver, volumeDriver, cidFile, macAddress    string
	ipv4Address, ipv6Address                        string
	cpusetCpus, cpusetMems                          string
	healthCmd                                       string
	healthInterval, healthTimeout                   time.Duration
	healthStartPeriod, healthStartInterval          time.Duration
	healthRetries                                   int
	blkioWeight                                     uint16
	cpuShares, cpuPeriod, cpuQuota                  int64
	cpuRtPeriod, cpuRtRuntime                       int64
	swappiness, pidsLimit                           int64
	oomScoreAdj                                     int
	memory, memoryReservation, shmSize              opts.Bytes
	memorySwap                                      opts.SwapBytes
	cpus                                            opts.NanoCPUs

	image string
	args  []string
}

// addContainerFlags registers docker's container flags on flags.
func addContainerFlags(flags *pflag.FlagSet) *containerOptions {
	o := &containerOptions{
		attach:            opts.NewList(opts.ValidateAttach),
		deviceCgroupRules: opts.NewList(opts.ValidateDeviceCgroupRule),
		devices:           opts.NewList(nil),
		env:               opts.NewList(opts.ValidateEnv),
		envFile:           opts.NewList(nil),
		groupAdd:          opts.NewList(nil),
		labels:            opts.NewList(opts.ValidateLabel),
		labelFile:         opts.NewList(nil),
		capAdd:            opts.NewList(nil),
		capDrop:           opts.NewList(nil),
		securityOpt:       opts.NewList(nil),
		addHost:           opts.NewList(validateExtraHost),
		dns:               opts.NewList(validateIP),
		dnsOptions:        opts.NewList(nil),
		dnsSearch:         opts.NewList(nil),
		expose:            opts.NewList(nil),
		publish:           opts.NewList(nil),
		logOpts:           opts.NewList(nil),
		storageOpt:        opts.NewList(nil),
		tmpfs:             opts.NewList(nil),
		volumes:           opts.NewList(nil),
		volumesFrom:       opts.NewList(nil),
		links:             opts.NewList(opts.ValidateLink),
		networks:          &opts.Networks{},
		aliases:           opts.NewList(nil),
		linkLocalIPs:      opts.NewList(nil),
		sysctls:           opts.NewMap(opts.ValidateSysctl),
		annotations:       opts.NewMap(nil),
		ulimits:           opts.NewUlimits(),
	}

	// General
	flags.VarP(o.attach, "attach", "a", "Attach to STDIN, STDOUT or STDERR")
	flags.Var(o.deviceCgroupRules, "device-cgroup-rule", "Add a rule to the cgroup allowed devices list")
	flags.Var(o.devices, "device", "Add a host device to the container")
	flags.VarP(o.env, "env", "e", "Set environment variables")
	flags.Var(o.envFile, "env-file", "Read in a file of environment variables")
	flags.StringVar(&o.entrypoint, "entrypoint", "", "Overwrite the default ENTRYPOINT of the image")
	flags.Var(o.groupAdd, "group-add", "Add additional groups to join")
	flags.StringVarP(&o.hostname, "hostname", "h", "", "Container host name")
	flags.StringVar(&o.domainname, "domainname", "", "Container NIS domain name")
	flags.BoolVarP(&o.stdin, "interactive", "i", false, "Keep STDIN open even if not attached")
	flags.VarP(o.labels, "label", "l", "Set meta data on a container")
	flags.Var(o.labelFile, "label-file", "Read in a line delimited file of labels")
	flags.BoolVar(&o.readOnly, "read-only", false, "Mount the container's root filesystem as read only")
	flags.StringVar(&o.restart, "restart", "no", "Restart policy to apply when a container exits")
	flags.StringVar(&o.stopSignal, "stop-signal", "", "Signal to stop the container")
	flags.IntVar(&o.stopTimeout, "stop-timeout", 0, "Timeout (in seconds) to stop a container")
	flags.Var(o.sysctls, "sysctl", "Sysctl options")
	flags.BoolVarP(&o.tty, "tty", "t", false, "Allocate a pseudo-TTY")
	flags.Var(o.ulimits, "ulimit", "Ulimit options")
	flags.StringVarP(&o.user, "user", "u", "", "Username or UID (format: <name|uid>[:<group|gid>])")
	flags.StringVarP(&o.workdir, "workdir", "w", "", "Working directory inside the container")
	flags.BoolVar(&o.autoRemove, "rm", false, "Automatically remove the container and its associated anonymous volumes when it exits")

	// Security
	flags.Var(o.capAdd, "cap-add", "Add Linux capabilities")
	flags.Var(o.capDrop, "cap-drop", "Drop Linux capabilities")
	flags.BoolVar(&o.privileged, "privileged", false, "Give extended privileges to this container")
	flags.Var(o.securityOpt, "security-opt", "Security Options")
	flags.StringVar(&o.usernsMode, "userns", "", "User namespace to use")
	flags.StringVar(&o.cgroupnsMode, "cgroupns", "", `Cgroup namespace to use (host|private)
'host':    Run the container in the host's cgroup namespace
'private': Run the container in its own private cgroup namespace
'':        Use the cgroup namespace as configured by the
           default-cgroupns-mode option on the daemon (default)`)

	// Network
	flags.Var(o.addHost, "add-host", "Add a custom host-to-IP mapping (host:ip)")
	flags.Var(o.dns, "dns", "Set custom DNS servers")
	flags.Var(o.dnsOptions, "dns-option", "Set DNS options")
	flags.Var(o.dnsOptions, "dns-opt", "Set DNS options")
	flags.MarkHidden("dns-opt")
	flags.Var(o.dnsSearch, "dns-search", "Set custom DNS search domains")
	flags.Var(o.expose, "expose", "Expose a port or a range of ports")
	flags.Var(o.links, "link", "Add link to another container")
	flags.StringVar(&o.macAddress, "mac-address", "", "Container MAC address (e.g., 92:d0:c6:0a:29:33)")
	flags.VarP(o.publish, "publish", "p", "Publish a container's port(s) to the host")
	flags.BoolVarP(&o.publishAll, "publish-all", "P", false, "Publish all exposed ports to random ports")
	flags.Var(o.networks, "network", "Connect a container to a network")
	flags.Var(o.networks, "net", "Connect a container to a network")
	flags.MarkHidden("net")
	flags.Var(o.aliases, "network-alias", "Add network-scoped alias for the container")
	flags.Var(o.aliases, "net-alias", "Add network-scoped alias for the container")
	flags.MarkHidden("net-alias")
	flags.StringVar(&o.ipv4Address, "ip", "", "IPv4 address (e.g., 172.30.100.104)")
	flags.StringVar(&o.ipv6Address, "ip6", "", "IPv6 address (e.g., 2001:db8::33)")
	flags.Var(o.linkLocalIPs, "link-local-ip", "Container IPv4/IPv6 link-local addresses")

	// Logging and storage
	flags.StringVar(&o.logDriver, "log-driver", "", "Logging driver for the container")
	flags.StringVar(&o.volumeDriver, "volume-driver", "", "Optional volume driver for the container")
	flags.Var(o.logOpts, "log-opt", "Log driver options")
	flags.Var(o.storageOpt, "storage-opt", "Storage driver options for the container")
	flags.Var(o.tmpfs, "tmpfs", "Mount a tmpfs directory")
	flags.Var(o.volumesFrom, "volumes-from", "Mount volumes from the specified container(s)")
	flags.VarP(o.volumes, "volume", "v", "Bind mount a volume")
	flags.Var(&o.mounts, "mount", "Attach a filesystem mount to the container")

	// Health
	flags.StringVar(&o.healthCmd, "health-cmd", "", "Command to run to check health")
	flags.DurationVar(&o.healthInterval, "health-interval", 0, "Time between running the check (ms|s|m|h) (default 0s)")
	flags.IntVar(&o.healthRetries, "health-retries", 0, "Consecutive failures needed to report unhealthy")
	flags.DurationVar(&o.healthTimeout, "health-timeout", 0, "Maximum time to allow one check to run (ms|s|m|h) (default 0s)")
	flags.DurationVar(&o.healthStartPeriod, "health-start-period", 0, "Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)")
	flags.DurationVar(&o.healthStartInterval, "health-start-interval", 0, "Time between running the check during the start period (ms|s|m|h) (default 0s)")
	flags.BoolVar(&o.noHealthcheck, "no-healthcheck", false, "Disable any container-specified HEALTHCHECK")

	// Resources
	flags.Uint16Var(&o.blkioWeight, "blkio-weight", 0, "Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)")
	flags.StringVar(&o.cidFile, "cidfile", "", "Write the container ID to the file")
	flags.StringVar(&o.cpusetCpus, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	flags.StringVar(&o.cpusetMems, "cpuset-mems", "", "MEMs in which to allow execution (0-3, 0,1)")
	flags.Int64Var(&o.cpuPeriod, "cpu-period", 0, "Limit CPU CFS (Completely Fair Scheduler) period")
	flags.Int64Var(&o.cpuQuota, "cpu-quota", 0, "Limit CPU CFS (Completely Fair Scheduler) quota")
	flags.Int64Var(&o.cpuRtPeriod, "cpu-rt-period", 0, "Limit CPU real-time period in microseconds")
	flags.Int64Var(&o.cpuRtRuntime, "cpu-rt-runtime", 0, "Limit CPU real-time runtime in microseconds")
	flags.Int64VarP(&o.cpuShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	flags.Var(&o.cpus, "cpus", "Number of CPUs")
	flags.VarP(&o.memory, "memory", "m", "Memory limit")
	flags.Var(&o.memoryReservation, "memory-reservation", "Memory soft limit")
	flags.Var(&o.memorySwap, "memory-swap", "Swap limit equal to memory plus swap: '-1' to enable unlimited swap")
	flags.Int64Var(&o.swappiness, "memory-swappiness", -1, "Tune container memory swappiness (0 to 100)")
	flags.BoolVar(&o.oomKillDisable, "oom-kill-disable", false, "Disable OOM Killer")
	flags.IntVar(&o.oomScoreAdj, "oom-score-adj", 0, "Tune host's OOM preferences (-1000 to 1000)")
	flags.Int64Var(&o.pidsLimit, "pids-limit", 0, "Tune container pids limit (set -1 for unlimited)")

	// Low-level execution
	flags.StringVar(&o.cgroupParent, "cgroup-parent", "", "Optional parent cgroup for the container")
	flags.StringVar(&o.ipcMode, "ipc", "", "IPC mode to use")
	flags.StringVar(&o.isolation, "isolation", "", "Container isolation technology")
	flags.StringVar(&o.pidMode, "pid", "", "PID namespace to use")
	flags.Var(&o.shmSize, "shm-size", "Size of /dev/shm")
	flags.StringVar(&o.utsMode, "uts", "", "UTS namespace to use")
	flags.StringVar(&o.runtime, "runtime", "", "Runtime to use for this container")
	flags.BoolVar(&o.init, "init", false, "Run an init inside the container that forwards signals and reaps processes")
	flags.Var(o.annotations, "annotation", "Add an annotation to the container (passed through to the OCI runtime)")
	return o
}
