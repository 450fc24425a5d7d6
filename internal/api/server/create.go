package server

import (
	"bytes"
	"io"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
)

// createInput is what POST /containers/create carries besides its body.
type createInput struct {
	version       string
	query         url.Values
	cgroupUnified bool
	limit         int64
	legacyMAC     string // Config.MacAddress, which the wire types no longer carry
}

// decodeCreate turns a create request into the backend's request: the
// body decoded strictly (one JSON document, right types), defaults set as
// dockerd sets them, adjustments for older API versions applied, and the
// checks that only need the request run. It never panics on any input
// (FuzzDecodeCreate).
func decodeCreate(body io.Reader, in createInput) (ContainerCreateRequest, error) {
	name := in.query.Get("name")
	if name != "" {
		if err := validateContainerName(name); err != nil {
			return ContainerCreateRequest{}, err
		}
	}
	var platform string
	if !before(in.version, "1.41") {
		platform = in.query.Get("platform")
		if err := validatePlatform(platform); err != nil {
			return ContainerCreateRequest{}, err
		}
	}

	var w container.CreateRequest
	var raw bytes.Buffer
	if err := decodeJSON(io.TeeReader(body, &raw), &w, in.limit); err != nil {
		return ContainerCreateRequest{}, err
	}
	in.legacyMAC = legacyMACAddress(raw.Bytes())
	if w.Config == nil {
		return ContainerCreateRequest{}, invalidf("config cannot be empty in order to create a container")
	}
	setCreateDefaults(&w)
	for _, adjust := range versionAdjustments {
		if err := adjust(&w, in); err != nil {
			return ContainerCreateRequest{}, err
		}
	}
	for _, check := range createChecks {
		if err := check(&w); err != nil {
			return ContainerCreateRequest{}, err
		}
	}
	return ContainerCreateRequest{
		Name:       name,
		Platform:   platform,
		Config:     w.Config,
		Host:       w.HostConfig,
		Networking: w.NetworkingConfig,
		APIVersion: in.version,
	}, nil
}

// setCreateDefaults fills what dockerd fills before anything looks at the
// request: empty maps instead of nil, NetworkMode "default" (the daemon
// decides what the default network is), no endpoint without settings.
func setCreateDefaults(w *container.CreateRequest) {
	if w.Config.Volumes == nil {
		w.Config.Volumes = map[string]struct{}{}
	}
	if w.HostConfig == nil {
		w.HostConfig = &container.HostConfig{}
	}
	if w.HostConfig.PortBindings == nil {
		w.HostConfig.PortBindings = network.PortMap{}
	}
	if w.HostConfig.NetworkMode == "" {
		w.HostConfig.NetworkMode = network.NetworkDefault
	}
	if w.NetworkingConfig == nil {
		w.NetworkingConfig = &network.NetworkingConfig{}
	}
	if w.NetworkingConfig.EndpointsConfig == nil {
		w.NetworkingConfig.EndpointsConfig = map[string]*network.EndpointSettings{}
	}
	for k, ep := range w.NetworkingConfig.EndpointsConfig {
		if ep == nil {
			w.NetworkingConfig.EndpointsConfig[k] = &network.EndpointSettings{}
		}
	}
	// 0 and -1 (historically any negative) mean "no limit", as unset does.
	if p := w.HostConfig.PidsLimit; p != nil && *p <= 0 {
		w.HostConfig.PidsLimit = nil
	}
}

// versionAdjustments make an older client's request mean what it meant
// to the dockerd of its time: fields the version did not have are
// dropped, defaults it relied on are set. They only warn-or-fix, except
// where dockerd refuses a field the version could not have sent.
var versionAdjustments = []func(*container.CreateRequest, createInput) error{
	adjustBefore125,
	adjustBefore140,
	adjustBefore141,
	adjustBefore142,
	adjustBefore143,
	adjustBefore144,
	adjustBefore145,
	adjustBefore148,
	adjustLegacyMAC,
	checkMountOptionTypes,
}

// API 1.24 and older: the client removed --rm containers itself.
func adjustBefore125(w *container.CreateRequest, in createInput) error {
	if before(in.version, "1.25") {
		w.HostConfig.AutoRemove = false
	}
	return nil
}

// Before 1.40 the IPC mode defaulted to shareable, and binds had no
// NonRecursive option.
func adjustBefore140(w *container.CreateRequest, in createInput) error {
	if !before(in.version, "1.40") {
		return nil
	}
	for _, m := range w.HostConfig.Mounts {
		if m.BindOptions != nil {
			m.BindOptions.NonRecursive = false
		}
	}
	if w.HostConfig.IpcMode.IsEmpty() {
		w.HostConfig.IpcMode = container.IPCModeShareable
	}
	return nil
}

// Before 1.41 the cgroup namespace defaulted to the host's on cgroup v1
// (and hybrid) hosts.
func adjustBefore141(w *container.CreateRequest, in createInput) error {
	if before(in.version, "1.41") && w.HostConfig.CgroupnsMode.IsEmpty() && !in.cgroupUnified {
		w.HostConfig.CgroupnsMode = container.CgroupnsModeHost
	}
	return nil
}

// Before 1.42: no CreateMountpoint, mount options of another mount type
// were ignored rather than refused, and Linux ignored ConsoleSize.
func adjustBefore142(w *container.CreateRequest, in createInput) error {
	if !before(in.version, "1.42") {
		return nil
	}
	for i := range w.HostConfig.Mounts {
		m := &w.HostConfig.Mounts[i]
		if m.BindOptions != nil {
			m.BindOptions.CreateMountpoint = false
		}
		if m.VolumeOptions != nil && m.Type != mount.TypeVolume {
			m.VolumeOptions = nil
		}
		if m.TmpfsOptions != nil && m.Type != mount.TypeTmpfs {
			m.TmpfsOptions = nil
		}
	}
	w.HostConfig.ConsoleSize = [2]uint{0, 0}
	return nil
}

// Annotations arrived in 1.43.
func adjustBefore143(w *container.CreateRequest, in createInput) error {
	if before(in.version, "1.43") {
		w.HostConfig.Annotations = nil
	}
	return nil
}

// Before 1.44: no health check start interval, no forced recursive
// read-only binds, and one network at most.
func adjustBefore144(w *container.CreateRequest, in createInput) error {
	if !before(in.version, "1.44") {
		return nil
	}
	if w.Config.Healthcheck != nil {
		w.Config.Healthcheck.StartInterval = 0
	}
	for _, m := range w.HostConfig.Mounts {
		if m.Type == mount.TypeBind && m.BindOptions != nil && m.BindOptions.ReadOnlyForceRecursive {
			return invalidf("BindOptions.ReadOnlyForceRecursive needs API v1.44 or newer")
		}
	}
	if n := len(w.NetworkingConfig.EndpointsConfig); n > 1 {
		names := make([]string, 0, n)
		for k := range w.NetworkingConfig.EndpointsConfig {
			names = append(names, k)
		}
		slices.Sort(names)
		return invalidf("Container cannot be created with multiple network endpoints: %s", strings.Join(names, ", "))
	}
	return nil
}

// Volume subpaths arrived in 1.45.
func adjustBefore145(w *container.CreateRequest, in createInput) error {
	if !before(in.version, "1.45") {
		return nil
	}
	for _, m := range w.HostConfig.Mounts {
		if m.VolumeOptions != nil && m.VolumeOptions.Subpath != "" {
			return invalidf("VolumeOptions.Subpath needs API v1.45 or newer")
		}
	}
	return nil
}

// Before 1.48 endpoints had no gateway priority and there were no image
// mounts.
func adjustBefore148(w *container.CreateRequest, in createInput) error {
	if !before(in.version, "1.48") {
		return nil
	}
	for _, ep := range w.NetworkingConfig.EndpointsConfig {
		ep.GwPriority = 0
	}
	for _, m := range w.HostConfig.Mounts {
		if m.Type == mount.TypeImage {
			return invalidf(`Mount type "Image" needs API v1.48 or newer`)
		}
	}
	return nil
}

// From 1.42 on, options of another mount type are refused.
func checkMountOptionTypes(w *container.CreateRequest, in createInput) error {
	if before(in.version, "1.42") {
		return nil
	}
	for _, m := range w.HostConfig.Mounts {
		switch {
		case m.VolumeOptions != nil && m.Type != mount.TypeVolume:
			return invalidf("VolumeOptions must not be specified on mount type %q", m.Type)
		case m.BindOptions != nil && m.Type != mount.TypeBind:
			return invalidf("BindOptions must not be specified on mount type %q", m.Type)
		case m.TmpfsOptions != nil && m.Type != mount.TypeTmpfs:
			return invalidf("TmpfsOptions must not be specified on mount type %q", m.Type)
		}
	}
	return nil
}

// createChecks are dockerd's request-level checks of a create, each one
// rule; what needs the engine (does the image exist, is the name free,
// does the kernel support it) is the backend's.
var createChecks = []func(*container.CreateRequest) error{
	checkContainerNetworkMode,
	checkHostNamespaces,
	checkIsolation,
	checkQoS,
	checkCPURealtime,
	checkCPUShares,
}

// A container joining another's network namespace cannot set what that
// namespace owns.
func checkContainerNetworkMode(w *container.CreateRequest) error {
	hc, c := w.HostConfig, w.Config
	if string(hc.NetworkMode) != "container" && !hc.NetworkMode.IsContainer() {
		return nil
	}
	switch {
	case hc.NetworkMode.ConnectedContainer() == "":
		return invalidf("invalid network mode: invalid container format container:<name|id>")
	case c.Hostname != "":
		return invalidf("conflicting options: hostname and the network mode")
	case len(hc.Links) > 0:
		return invalidf("conflicting options: container type network can't be used with links. This would result in undefined behavior")
	case len(hc.DNS) > 0:
		return invalidf("conflicting options: dns and the network mode")
	case len(hc.ExtraHosts) > 0:
		return invalidf("conflicting options: custom host-to-IP mapping and the network mode")
	case len(hc.PortBindings) > 0 || hc.PublishAllPorts:
		return invalidf("conflicting options: port publishing and the container type network mode")
	case len(c.ExposedPorts) > 0:
		return invalidf("conflicting options: port exposing and the container type network mode")
	}
	return nil
}

// The host's UTS namespace has the host's name; the host's network has no
// links.
func checkHostNamespaces(w *container.CreateRequest) error {
	if w.HostConfig.UTSMode.IsHost() && w.Config.Hostname != "" {
		return invalidf("conflicting options: hostname and the UTS mode")
	}
	if w.HostConfig.NetworkMode.IsHost() && len(w.HostConfig.Links) > 0 {
		return invalidf("conflicting options: host type networking can't be used with links. This would result in undefined behavior")
	}
	return nil
}

func checkIsolation(w *container.CreateRequest) error {
	if !w.HostConfig.Isolation.IsValid() {
		return invalidf("invalid isolation (%s): linux only supports 'default'", w.HostConfig.Isolation)
	}
	return nil
}

func checkQoS(w *container.CreateRequest) error {
	if w.HostConfig.IOMaximumBandwidth != 0 {
		return invalidf("invalid option: QoS maximum bandwidth configuration is not supported on linux")
	}
	if w.HostConfig.IOMaximumIOps != 0 {
		return invalidf("invalid option: QoS maximum IOPs configuration is not supported on linux")
	}
	return nil
}

func checkCPURealtime(w *container.CreateRequest) error {
	r := w.HostConfig.Resources
	if r.CPURealtimePeriod != 0 && r.CPURealtimeRuntime != 0 && r.CPURealtimeRuntime > r.CPURealtimePeriod {
		return invalidf("cpu real-time runtime cannot be higher than cpu real-time period")
	}
	return nil
}

func checkCPUShares(w *container.CreateRequest) error {
	if s := w.HostConfig.Resources.CPUShares; s < 0 {
		return invalidf("invalid CPU shares (%d): value must be a positive integer", s)
	}
	return nil
}

// platformPart is one of os, architecture and variant in "os/arch/variant".
var platformPart = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// validatePlatform checks the shape of a platform specifier ("linux",
// "linux/amd64", "linux/arm64/v8"); whether the engine has it is the
// backend's question.
func validatePlatform(p string) error {
	if p == "" {
		return nil
	}
	parts := strings.Split(p, "/")
	if len(parts) > 3 {
		return invalidf("invalid platform %q: must be os[/arch[/variant]]", p)
	}
	for _, part := range parts {
		if !platformPart.MatchString(part) {
			return invalidf("invalid platform %q: must be os[/arch[/variant]]", p)
		}
	}
	return nil
}

// platformString turns the JSON OCI platform some endpoints take (push,
// since API 1.46) into "os/arch[/variant]".
func platformString(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	var p struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
		Variant      string `json:"variant"`
	}
	if err := decodeJSON(strings.NewReader(raw), &p, int64(len(raw))); err != nil {
		return "", invalidf("failed to parse platform: %v", err)
	}
	if p.OS == "" || p.Architecture == "" {
		return "", invalidf("both OS and Architecture must be provided")
	}
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	if err := validatePlatform(s); err != nil {
		return "", err
	}
	return s, nil
}
