package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/spf13/pflag"

	"github.com/berth-project/berth/internal/cli/opts"
)

// containerConfig is what create sends: POST /containers/create's body.
type containerConfig struct {
	Config     *container.Config
	HostConfig *container.HostConfig
	Networking *network.NetworkingConfig
}

// parseContainer turns the flags into the create request the docker CLI
// would send for them. Errors are the user's (exit 125 in run).
func parseContainer(flags *pflag.FlagSet, o *containerOptions) (*containerConfig, error) {
	attachStdin, attachStdout, attachStderr := false, false, false
	for _, s := range o.attach.Values() {
		switch s {
		case "stdin":
			attachStdin = true
		case "stdout":
			attachStdout = true
		case "stderr":
			attachStderr = true
		}
	}
	if o.macAddress != "" {
		if _, err := net.ParseMAC(strings.TrimSpace(o.macAddress)); err != nil {
			return nil, fmt.Errorf("%s is not a valid mac address", o.macAddress)
		}
	}
	if o.stdin {
		attachStdin = true
	}
	if o.attach.Len() == 0 {
		attachStdout, attachStderr = true, true
	}
	if o.swappiness != -1 && (o.swappiness < 0 || o.swappiness > 100) {
		return nil, fmt.Errorf("invalid value: %d. Valid memory swappiness range is 0-100", o.swappiness)
	}

	binds, volumes, err := parseVolumes(o.volumes.Values())
	if err != nil {
		return nil, err
	}
	var tmpfs map[string]string
	if o.tmpfs.Len() > 0 {
		tmpfs = map[string]string{}
		for _, t := range o.tmpfs.Values() {
			k, v, _ := strings.Cut(t, ":")
			tmpfs[k] = v
		}
	}

	var cmd, entrypoint []string
	if len(o.args) > 0 {
		cmd = o.args
	}
	if o.entrypoint != "" {
		entrypoint = []string{o.entrypoint}
	} else if flags.Changed("entrypoint") {
		// --entrypoint= clears the image's entrypoint.
		entrypoint = []string{""}
	}

	exposed, bindings, err := parsePorts(o.publish.Values(), o.expose.Values())
	if err != nil {
		return nil, err
	}
	devices := make([]container.DeviceMapping, 0, o.devices.Len())
	for _, d := range o.devices.Values() {
		m, err := parseDevice(d)
		if err != nil {
			return nil, err
		}
		devices = append(devices, m)
	}
	env, err := opts.ReadKVFiles(o.envFile.Values(), dedupEnv(o.env.Values()), os.LookupEnv)
	if err != nil {
		return nil, fmt.Errorf("--env-file: %w", err)
	}
	labels, err := opts.ReadKVFiles(o.labelFile.Values(), o.labels.Values(), nil)
	if err != nil {
		return nil, fmt.Errorf("--label-file: %w", err)
	}

	if !container.PidMode(o.pidMode).Valid() {
		return nil, errors.New("--pid: invalid PID mode")
	}
	if !container.UTSMode(o.utsMode).Valid() {
		return nil, errors.New("--uts: invalid UTS mode")
	}
	if !container.UsernsMode(o.usernsMode).Valid() {
		return nil, errors.New("--userns: invalid USER mode")
	}
	if !container.CgroupnsMode(o.cgroupnsMode).Valid() {
		return nil, errors.New("--cgroupns: invalid CGROUP mode")
	}
	restart, err := parseRestartPolicy(o.restart)
	if err != nil {
		return nil, err
	}
	logOpts := opts.KVMap(o.logOpts.Values())
	if o.logDriver == "none" && o.logOpts.Len() > 0 {
		return nil, fmt.Errorf("invalid logging opts for driver %s", o.logDriver)
	}
	securityOpts, err := parseSecurityOpts(o.securityOpt.Values())
	if err != nil {
		return nil, err
	}
	securityOpts, masked, readonly := systemPaths(securityOpts)
	storageOpts := map[string]string{}
	for _, s := range o.storageOpt.Values() {
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			return nil, errors.New("invalid storage option")
		}
		storageOpts[k] = v
	}
	health, err := parseHealth(o)
	if err != nil {
		return nil, err
	}

	resources := container.Resources{
		CgroupParent:       o.cgroupParent,
		Memory:             o.memory.Value(),
		MemoryReservation:  o.memoryReservation.Value(),
		MemorySwap:         o.memorySwap.Value(),
		MemorySwappiness:   &o.swappiness,
		OomKillDisable:     &o.oomKillDisable,
		NanoCPUs:           o.cpus.Value(),
		CPUShares:          o.cpuShares,
		CPUPeriod:          o.cpuPeriod,
		CpusetCpus:         o.cpusetCpus,
		CpusetMems:         o.cpusetMems,
		CPUQuota:           o.cpuQuota,
		CPURealtimePeriod:  o.cpuRtPeriod,
		CPURealtimeRuntime: o.cpuRtRuntime,
		PidsLimit:          &o.pidsLimit,
		BlkioWeight:        o.blkioWeight,
		BlkioWeightDevice:  nil,
		Ulimits:            o.ulimits.List(),
		DeviceCgroupRules:  o.deviceCgroupRules.Values(),
		Devices:            devices,
	}
	cfg := &container.Config{
		Hostname:     o.hostname,
		Domainname:   o.domainname,
		ExposedPorts: exposed,
		User:         o.user,
		Tty:          o.tty,
		OpenStdin:    o.stdin,
		AttachStdin:  attachStdin,
		AttachStdout: attachStdout,
		AttachStderr: attachStderr,
		Env:          env,
		Cmd:          cmd,
		Image:        o.image,
		Volumes:      volumes,
		Entrypoint:   entrypoint,
		WorkingDir:   o.workdir,
		Labels:       opts.KVMap(labels),
		StopSignal:   o.stopSignal,
		Healthcheck:  health,
	}
	if flags.Changed("stop-timeout") {
		cfg.StopTimeout = &o.stopTimeout
	}
	netMode, endpoints, err := parseNetworks(o)
	if err != nil {
		return nil, err
	}
	host := &container.HostConfig{
		Binds:           binds,
		ContainerIDFile: o.cidFile,
		OomScoreAdj:     o.oomScoreAdj,
		AutoRemove:      o.autoRemove,
		Privileged:      o.privileged,
		PortBindings:    bindings,
		Links:           o.links.Values(),
		PublishAllPorts: o.publishAll,
		// Never nil, as docker sends them.
		DNS:            ipList(o.dns.Values()),
		DNSSearch:      o.dnsSearch.OrEmpty(),
		DNSOptions:     o.dnsOptions.OrEmpty(),
		ExtraHosts:     o.addHost.Values(),
		VolumesFrom:    o.volumesFrom.Values(),
		IpcMode:        container.IpcMode(o.ipcMode),
		NetworkMode:    container.NetworkMode(netMode),
		PidMode:        container.PidMode(o.pidMode),
		UTSMode:        container.UTSMode(o.utsMode),
		UsernsMode:     container.UsernsMode(o.usernsMode),
		CgroupnsMode:   container.CgroupnsMode(o.cgroupnsMode),
		CapAdd:         o.capAdd.Values(),
		CapDrop:        o.capDrop.Values(),
		GroupAdd:       o.groupAdd.Values(),
		RestartPolicy:  restart,
		SecurityOpt:    securityOpts,
		StorageOpt:     storageOpts,
		ReadonlyRootfs: o.readOnly,
		LogConfig:      container.LogConfig{Type: o.logDriver, Config: logOpts},
		VolumeDriver:   o.volumeDriver,
		Isolation:      container.Isolation(o.isolation),
		ShmSize:        o.shmSize.Value(),
		Resources:      resources,
		Tmpfs:          tmpfs,
		Sysctls:        o.sysctls.Values(),
		Runtime:        o.runtime,
		Mounts:         o.mounts.Values(),
		MaskedPaths:    masked,
		ReadonlyPaths:  readonly,
		Annotations:    o.annotations.Values(),
	}
	if o.autoRemove && restart.Name != "" && restart.Name != container.RestartPolicyDisabled {
		return nil, errors.New("conflicting options: cannot specify both --restart and --rm")
	}
	if flags.Changed("init") {
		host.Init = &o.init
	}
	// An attached -i closes the container's stdin when the client goes.
	if cfg.OpenStdin && cfg.AttachStdin {
		cfg.StdinOnce = true
	}
	return &containerConfig{Config: cfg, HostConfig: host, Networking: &network.NetworkingConfig{EndpointsConfig: endpoints}}, nil
}

// parseDevice reads --device SRC[:DST][:PERMISSIONS].
func parseDevice(spec string) (container.DeviceMapping, error) {
	if strings.Count(spec, ":") > 2 {
		return container.DeviceMapping{}, fmt.Errorf("bad format for path: %s", spec)
	}
	parts := strings.Split(spec, ":")
	if parts[0] == "" {
		return container.DeviceMapping{}, fmt.Errorf("bad format for path: %s", spec)
	}
	m := container.DeviceMapping{PathOnHost: parts[0], CgroupPermissions: "rwm"}
	switch len(parts) {
	case 1:
		m.PathOnHost = path.Clean(parts[0])
	case 2:
		if validDeviceMode(parts[1]) {
			m.CgroupPermissions = parts[1]
			m.PathOnHost = path.Clean(parts[0])
		} else {
			m.PathInContainer = path.Clean(parts[1])
		}
	case 3:
		if !validDeviceMode(parts[2]) {
			return container.DeviceMapping{}, fmt.Errorf("bad mode specified: %s", parts[2])
		}
		m.PathInContainer, m.CgroupPermissions = parts[1], parts[2]
	}
	if m.PathInContainer == "" {
		m.PathInContainer = m.PathOnHost
	}
	if !path.IsAbs(m.PathInContainer) {
		return container.DeviceMapping{}, fmt.Errorf("%s is not an absolute path", m.PathInContainer)
	}
	return m, nil
}

func validDeviceMode(mode string) bool {
	if mode == "" {
		return false
	}
	seen := map[rune]bool{}
	for _, c := range mode {
		if (c != 'r' && c != 'w' && c != 'm') || seen[c] {
			return false
		}
		seen[c] = true
	}
	return true
}

func parseRestartPolicy(policy string) (container.RestartPolicy, error) {
	if policy == "" {
		return container.RestartPolicy{}, nil
	}
	name, count, ok := strings.Cut(policy, ":")
	if ok && name == "" {
		return container.RestartPolicy{}, errors.New("invalid restart policy format: no policy provided before colon")
	}
	var retries int
	if count != "" {
		n, err := strconv.Atoi(count)
		if err != nil {
			return container.RestartPolicy{}, errors.New("invalid restart policy format: maximum retry count must be an integer")
		}
		retries = n
	}
	return container.RestartPolicy{Name: container.RestartPolicyMode(name), MaximumRetryCount: retries}, nil
}

// parseSecurityOpts checks --security-opt values; seccomp=FILE is replaced
// by the profile's compacted content, which is what the daemon expects.
func parseSecurityOpts(values []string) ([]string, error) {
	out := append([]string(nil), values...)
	for i, opt := range out {
		k, v, ok := strings.Cut(opt, "=")
		if !ok && k != "no-new-privileges" {
			k, v, ok = strings.Cut(opt, ":")
		}
		if (!ok || v == "") && k != "no-new-privileges" {
			return nil, fmt.Errorf("invalid --security-opt: %q", opt)
		}
		if k != "seccomp" || v == "builtin" || v == "unconfined" {
			continue
		}
		profile, err := os.ReadFile(v)
		if err != nil {
			return nil, fmt.Errorf("opening seccomp profile (%s) failed: %w", v, err)
		}
		var b bytes.Buffer
		if err := json.Compact(&b, profile); err != nil {
			return nil, fmt.Errorf("compacting json for seccomp profile (%s) failed: %w", v, err)
		}
		out[i] = "seccomp=" + b.String()
	}
	return out, nil
}

// systemPaths handles "systempaths=unconfined" on the client, as docker:
// it becomes empty masked and read-only path lists.
func systemPaths(values []string) (filtered, masked, readonly []string) {
	for _, v := range values {
		if v == "systempaths=unconfined" {
			masked, readonly = []string{}, []string{}
			continue
		}
		filtered = append(filtered, v)
	}
	return filtered, masked, readonly
}

func parseHealth(o *containerOptions) (*container.HealthConfig, error) {
	set := o.healthCmd != "" || o.healthInterval != 0 || o.healthTimeout != 0 ||
		o.healthStartPeriod != 0 || o.healthRetries != 0 || o.healthStartInterval != 0
	if o.noHealthcheck {
		if set {
			return nil, errors.New("--no-healthcheck conflicts with --health-* options")
		}
		return &container.HealthConfig{Test: []string{"NONE"}}, nil
	}
	if !set {
		return nil, nil
	}
	for name, d := range map[string]int64{
		"--health-interval": int64(o.healthInterval), "--health-timeout": int64(o.healthTimeout),
		"--health-retries": int64(o.healthRetries), "--health-start-period": int64(o.healthStartPeriod),
		"--health-start-interval": int64(o.healthStartInterval),
	} {
		if d < 0 {
			return nil, fmt.Errorf("%s cannot be negative", name)
		}
	}
	var test []string
	if o.healthCmd != "" {
		test = []string{"CMD-SHELL", o.healthCmd}
	}
	return &container.HealthConfig{
		Test: test, Interval: o.healthInterval, Timeout: o.healthTimeout,
		StartPeriod: o.healthStartPeriod, StartInterval: o.healthStartInterval, Retries: o.healthRetries,
	}, nil
}

func ipList(values []string) []netip.Addr {
	out := []netip.Addr{}
	for _, v := range values {
		if a, err := netip.ParseAddr(v); err == nil {
			out = append(out, a)
		}
	}
	return out
}

func validateIP(v string) (string, error) {
	if ip := net.ParseIP(strings.TrimSpace(v)); ip != nil {
		return ip.String(), nil
	}
	return "", fmt.Errorf("IP address is not correctly formatted: %s", v)
}

// validateExtraHost accepts host:ip or host=ip (ip may be "host-gateway" or
// in brackets) and sends host:ip, the form the daemon reads.
func validateExtraHost(v string) (string, error) {
	k, ip, ok := strings.Cut(v, "=")
	if !ok {
		k, ip, ok = strings.Cut(v, ":")
	}
	if !ok || k == "" || strings.Contains(k, ":") {
		return "", fmt.Errorf("bad format for add-host: %q", v)
	}
	if ip != "host-gateway" {
		if len(ip) > 2 && ip[0] == '[' && ip[len(ip)-1] == ']' {
			ip = ip[1 : len(ip)-1]
		}
		if _, err := validateIP(ip); err != nil {
			return "", fmt.Errorf("invalid IP address in add-host: %q", ip)
		}
	}
	return k + ":" + ip, nil
}

// dedupEnv keeps one -e value per variable, the last given, as docker's
// CLI does (it passes them through a map).
func dedupEnv(values []string) []string {
	last := map[string]string{}
	var order []string
	for _, v := range values {
		k, _, _ := strings.Cut(v, "=")
		if _, seen := last[k]; !seen {
			order = append(order, k)
		}
		last[k] = v
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, last[k])
	}
	return out
}
