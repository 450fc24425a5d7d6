package server

import (
	"context"
	"io"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/api/types/volume"
)

// The backends are what the server needs from the engine, declared here
// (by the consumer) so the server can be tested with fakes and the daemon
// never leaks into HTTP code. Every method is ctx-first; errors carry an
// errdefs class, which the server alone turns into a status code and
// docker's {"message": ...} body. The server has already decoded and
// validated the request's shape (JSON, types, query parameters); the
// backend validates meaning (does the image exist, is the name free).
//
// Names ("name") are whatever docker accepts: a full ID, a unique ID
// prefix, or a name with or without its leading "/".

// Filters are the decoded "filters" query parameter: docker sends
// {"label":{"a=b":true}} (API 1.22 on) or {"label":["a=b"]} (before);
// both arrive here as key -> values.
type Filters map[string][]string

// Backend is the whole engine as the server sees it.
type Backend interface {
	ContainerBackend
	ExecBackend
	ImageBackend
	NetworkBackend
	SystemBackend
	VolumeBackend
	ContainerFSBackend
}

// ContainerBackend runs containers.
type ContainerBackend interface {
	ContainerCreate(ctx context.Context, req ContainerCreateRequest) (container.CreateResponse, error)
	ContainerList(ctx context.Context, opts ContainerListOptions) ([]container.Summary, error)
	ContainerInspect(ctx context.Context, name string, size bool) (container.InspectResponse, error)
	ContainerStart(ctx context.Context, name string) error
	// Starting a running container or stopping a stopped one returns
	// errdefs.ErrNotModified; the server answers 304, as docker does.
	ContainerStop(ctx context.Context, name string, opts StopOptions) error
	ContainerRestart(ctx context.Context, name string, opts StopOptions) error
	ContainerKill(ctx context.Context, name, signal string) error
	ContainerPause(ctx context.Context, name string) error
	ContainerUnpause(ctx context.Context, name string) error
	// ContainerWait returns once the wait is registered (so the server
	// can send the 200 header at once, as docker does, and the client
	// knows it will not miss the exit); the channel yields one result.
	ContainerWait(ctx context.Context, name string, cond container.WaitCondition) (<-chan container.WaitResponse, error)
	ContainerRemove(ctx context.Context, name string, opts RemoveOptions) error
	// ContainerLogs streams the container's log; tty says whether the
	// container has a terminal (raw output) or not (stdcopy framing).
	// The channel is closed at the end (or when ctx ends, for follow).
	ContainerLogs(ctx context.Context, name string, opts LogsOptions) (msgs <-chan LogMessage, tty bool, err error)
	// ContainerAttach checks the request, then calls opts.Streams to
	// hijack the connection, and copies until the streams end, the
	// container exits, or the detach keys are read from stdin (a detach
	// returns nil). ctx ends when the client hangs up or the server stops;
	// Streams.Stdin reaches EOF when the client closes its writing side,
	// which is not a hang-up.
	ContainerAttach(ctx context.Context, name string, opts AttachOptions) error
	ContainerResize(ctx context.Context, name string, height, width uint) error
	ContainerTop(ctx context.Context, name, psArgs string) (container.TopResponse, error)
	// ContainerStats sends one sample (Stream false) or one a second
	// until ctx ends. OneShot skips the priming sample docker takes for
	// precpu figures.
	ContainerStats(ctx context.Context, name string, opts StatsOptions, send func(container.StatsResponse) error) error
	ContainerRename(ctx context.Context, name, newName string) error
	ContainerUpdate(ctx context.Context, name string, update container.UpdateConfig) (container.UpdateResponse, error)
	ContainersPrune(ctx context.Context, filters Filters) (container.PruneReport, error)
}

// ExecBackend runs extra processes in running containers.
type ExecBackend interface {
	ExecCreate(ctx context.Context, name string, req container.ExecCreateRequest) (id string, err error)
	// ExecStart runs the exec. Detached: returns once it started.
	// Otherwise it calls opts.Streams to hijack the connection and returns
	// when the process ends and its output is flushed.
	ExecStart(ctx context.Context, id string, opts ExecStartOptions) error
	ExecInspect(ctx context.Context, id string) (container.ExecInspectResponse, error)
	ExecResize(ctx context.Context, id string, height, width uint) error
}

// ImageBackend manages images.
type ImageBackend interface {
	// ImagePull writes docker's JSON progress stream to out; errors after
	// the stream started are written into it by the backend as
	// {"errorDetail":...} messages and also returned. (For pull, push,
	// import and load alike, the server writes the returned error into the
	// stream itself when the backend wrote none; an error before any output
	// becomes a plain HTTP error.)
	ImagePull(ctx context.Context, ref string, opts ImagePullOptions, out io.Writer) error
	ImageImport(ctx context.Context, src io.Reader, opts ImageImportOptions, out io.Writer) error
	ImagePush(ctx context.Context, ref string, opts ImagePushOptions, out io.Writer) error
	ImageTag(ctx context.Context, source, repo, tag string) error
	ImageDelete(ctx context.Context, ref string, force, noPrune bool) ([]image.DeleteResponse, error)
	ImageList(ctx context.Context, opts ImageListOptions) ([]image.Summary, error)
	ImageInspect(ctx context.Context, ref string) (image.InspectResponse, error)
	ImageHistory(ctx context.Context, ref string) ([]image.HistoryResponseItem, error)
	// ImageSave writes one docker-archive holding every named image.
	ImageSave(ctx context.Context, refs []string, out io.Writer) error
	ImageLoad(ctx context.Context, src io.Reader, quiet bool, out io.Writer) error
	ImagesPrune(ctx context.Context, filters Filters) (image.PruneReport, error)
	ImageSearch(ctx context.Context, term string, limit int, filters Filters, auth *registry.AuthConfig) ([]registry.SearchResult, error)
}

// NetworkBackend manages networks and containers' membership of them.
// A network is named by its full ID, its exact name or a unique ID prefix
// (in that order, as docker); an unknown one is NotFound "network X not
// found".
//
// What the server has already done, so the backend need not:
//   - NetworkList: filter keys are docker's (dangling, driver, id, label,
//     name, scope, type); dangling is one of true/false/1/0; type is
//     custom or builtin. The backend applies them (name and id match as
//     docker's: substring/regexp and prefix).
//   - NetworksPrune: keys are until, label, label!; until appears at most
//     once, its value is the backend's to parse (as container prune's).
//   - NetworkCreate: the name is not blank, at most 255 bytes, without
//     control characters, and not a predefined one (bridge, host, none,
//     default: Forbidden); IPAM configs parse, and (IPv4 always, IPv6 when
//     enabled) have no host bits and hold their ranges, gateways and
//     auxiliary addresses, all with dockerd's messages; EnableIPv4 is nil
//     before API 1.48. The backend decides meaning: driver known, name
//     free (Conflict "network with name X already exists", at every API
//     version, whatever CheckDuplicate said), subnet free, IPv6 supported.
//   - NetworkConnect: req.EndpointConfig is never nil; its requested
//     addresses parsed (IPv4Address is IPv4, IPv6Address IPv6, neither
//     unspecified) and its MAC too; GwPriority is 0 before API 1.48.
//
// The server answers 201 with the CreateResponse, 204 to a remove and 200
// with no body to connect and disconnect.
type NetworkBackend interface {
	NetworkList(ctx context.Context, filters Filters) ([]network.Summary, error)
	NetworkInspect(ctx context.Context, idOrName string, opts NetworkInspectOptions) (network.Inspect, error)
	NetworkCreate(ctx context.Context, req network.CreateRequest) (network.CreateResponse, error)
	NetworkRemove(ctx context.Context, idOrName string) error
	NetworkConnect(ctx context.Context, idOrName string, req network.ConnectRequest) error
	NetworkDisconnect(ctx context.Context, idOrName string, req network.DisconnectRequest) error
	NetworksPrune(ctx context.Context, filters Filters) (network.PruneReport, error)
}

// NetworkInspectOptions is GET /networks/{id}'s query.
type NetworkInspectOptions struct {
	Verbose bool
	Scope   string
}

// SystemBackend answers the system endpoints.
type SystemBackend interface {
	Info(ctx context.Context) (system.Info, error)
	Version(ctx context.Context) (system.VersionResponse, error)
	DiskUsage(ctx context.Context, opts DiskUsageOptions) (system.DiskUsage, error)
	// Events sends past events (Since) then live ones until Until or ctx
	// ends; send's error stops it.
	Events(ctx context.Context, opts EventsOptions, send func(events.Message) error) error
	// Login checks credentials against the registry; the token is empty
	// when the registry gives none.
	Login(ctx context.Context, auth registry.AuthConfig) (status, identityToken string, err error)
}

// VolumeBackend manages volumes. A volume is named by its exact name; an
// unknown one is NotFound "get NAME: no such volume", as docker.
//
// What the server has already done, so the backend need not:
//   - VolumeList: filter keys are docker's (dangling, driver, label, name);
//     dangling is one of true/false/1/0.
//   - VolumeCreate: the body decoded; Driver is "local" when the client
//     sent none; ClusterVolumeSpec is nil (swarm only). The name may be
//     empty (the backend picks a random one); checking it is the
//     backend's (the local driver's rules and messages).
//   - VolumesPrune: keys are label, label! and all (a boolean); before API
//     1.42 the server adds all=true, as dockerd, since only anonymous
//     volumes are pruned by default from 1.42 on.
//
// A volume in use is Conflict "remove NAME: volume is in use - [IDS]";
// force removes a volume that does not exist without an error, as docker.
// The server answers 201 with the volume to create and 204 to remove.
type VolumeBackend interface {
	VolumeList(ctx context.Context, filters Filters) (volume.ListResponse, error)
	VolumeInspect(ctx context.Context, name string) (volume.Volume, error)
	VolumeCreate(ctx context.Context, req volume.CreateRequest) (volume.Volume, error)
	VolumeRemove(ctx context.Context, name string, force bool) error
	VolumesPrune(ctx context.Context, filters Filters) (volume.PruneReport, error)
}

// ContainerFSBackend reads and writes containers' filesystems: docker
// cp (archive), diff (changes), export and commit. Paths are inside the
// container (absolute, or relative to "/"), never empty (the server
// checks), and must be resolved inside the container's root with its
// volumes and binds mounted, never following a symlink out of it.
//
// A path that does not exist is NotFound "Could not find the file PATH in
// container NAME" (cpath.FileNotFound); a read-only destination is
// InvalidParameter (docker's "container rootfs is marked read-only" /
// "mounted volume is marked read-only"), as is a destination that is not a
// directory ("extraction point is not a directory"); replacing a directory
// by a non-directory or the reverse under NoOverwriteDirNonDir is Conflict.
type ContainerFSBackend interface {
	// ContainerStatPath is HEAD /containers/{id}/archive: the stat of
	// path, which the server sends as X-Docker-Container-Path-Stat.
	ContainerStatPath(ctx context.Context, name, path string) (container.PathStat, error)
	// ContainerArchivePath is GET /containers/{id}/archive: a tar of path
	// (named for its base name, as docker) and its stat. The reader must
	// be closed by the caller.
	ContainerArchivePath(ctx context.Context, name, path string) (io.ReadCloser, container.PathStat, error)
	// ContainerExtractToDir is PUT /containers/{id}/archive: content is a
	// tar, possibly compressed (gzip, bzip2, xz, zstd), extracted into the
	// directory path.
	ContainerExtractToDir(ctx context.Context, name, path string, opts ExtractOptions, content io.Reader) error
	// ContainerChanges is GET /containers/{id}/changes: the container's
	// changes to its image's filesystem.
	ContainerChanges(ctx context.Context, name string) ([]container.FilesystemChange, error)
	// ContainerExport is GET /containers/{id}/export: a tar of the
	// container's whole filesystem (without its volumes) written to out.
	// An error after out was written to ends the stream early.
	ContainerExport(ctx context.Context, name string, out io.Writer) error
	// ContainerCommit is POST /commit: a new image from the container's
	// changes; it returns the image's ID ("sha256:...").
	ContainerCommit(ctx context.Context, name string, opts CommitOptions) (imageID string, err error)
}

// ExtractOptions is PUT /containers/{id}/archive's query.
type ExtractOptions struct {
	// CopyUIDGID (?copyUIDGID=1, docker cp -a): the entries belong to the
	// container's user when it has one (Config.User, looked up in the
	// container's own passwd and group), as dockerd does. Otherwise, and
	// for a container without a user, they keep the archive's owners.
	CopyUIDGID bool
	// NoOverwriteDirNonDir (?noOverwriteDirNonDir=1, which docker cp always
	// sends) refuses to replace a directory with a non-directory or the
	// reverse.
	NoOverwriteDirNonDir bool
}

// CommitOptions is POST /commit's query and body. Repo is a valid
// repository name as the client sent it (the docker CLI sends it
// normalized: "docker.io/library/app"); Tag is then set ("latest" by
// default). Both are empty for an untagged image. Changes are unparsed.
type CommitOptions struct {
	Repo, Tag       string // ?repo=&tag=
	Author, Comment string
	Pause           bool              // ?pause= (default true)
	Changes         []string          // ?changes= (repeated), Dockerfile instructions
	Config          *container.Config // the body (may be nil)
}

// ContainerCreateRequest is POST /containers/create.
type ContainerCreateRequest struct {
	Name     string
	Platform string
	Config   *container.Config
	Host     *container.HostConfig
	// Networking is the raw NetworkingConfig; bridge networks arrive with
	// the networking issue. The server always passes a
	// *network.NetworkingConfig with a non-nil EndpointsConfig and no nil
	// entry. HostConfig.NetworkMode is "default" when the client sent none
	// (the docker CLI sends "default" too, with an endpoint keyed
	// "default"): the backend decides what the default network is.
	Networking  any
	APIVersion  string // the request's API version; adjustments for older ones are already applied
	DefaultCmd  bool   // not set by the server (reserved)
	AdjustCPUID bool   // not set by the server (reserved)
}

// ContainerListOptions is GET /containers/json.
type ContainerListOptions struct {
	All     bool
	Limit   int
	Size    bool
	Filters Filters
}

// StopOptions is the signal and timeout of stop and restart; a nil
// Timeout means the container's own (StopTimeout, else 10 s).
type StopOptions struct {
	Signal  string
	Timeout *int
}

// RemoveOptions is DELETE /containers/{id}.
type RemoveOptions struct {
	Force         bool
	RemoveVolumes bool
	RemoveLink    bool
}

// LogsOptions is GET /containers/{id}/logs. Since and Until are zero when
// unset; Tail is -1 for all.
type LogsOptions struct {
	Stdout, Stderr bool
	Follow         bool
	Timestamps     bool
	Details        bool
	Since, Until   time.Time
	Tail           int
}

// LogMessage is one log line (with its newline, if it had one), or an
// error that ends the stream.
type LogMessage struct {
	Stream string // "stdout" or "stderr"
	Line   []byte
	Time   time.Time
	Attrs  map[string]string
	Err    error
}

// Streams are a hijacked connection's ends. With a terminal, stdout is
// the raw connection and Stderr is nil; without one, Stdout and Stderr
// write stdcopy frames onto the same connection.
type Streams struct {
	Stdin  io.ReadCloser
	Stdout io.Writer
	Stderr io.Writer
}

// AttachOptions is POST /containers/{id}/attach (and the websocket form).
type AttachOptions struct {
	Stdin, Stdout, Stderr bool
	Logs, Stream          bool
	DetachKeys            string
	// Streams hijacks the connection; tty picks raw or stdcopy output.
	// Errors returned by the backend before calling it become ordinary
	// HTTP errors; after it, they are written to the stream.
	Streams func(tty bool) (Streams, error)
}

// ExecStartOptions is POST /exec/{id}/start.
type ExecStartOptions struct {
	Detach      bool
	Tty         bool
	ConsoleSize *[2]uint
	Streams     func(tty bool) (Streams, error)
}

// StatsOptions is GET /containers/{id}/stats.
type StatsOptions struct {
	Stream  bool
	OneShot bool
}

// ImagePullOptions is POST /images/create?fromImage=.
type ImagePullOptions struct {
	Tag      string
	Platform string
	Auth     *registry.AuthConfig
}

// ImageImportOptions is POST /images/create?fromSrc=.
type ImageImportOptions struct {
	Repo     string
	Tag      string
	Message  string
	Changes  []string
	Platform string
}

// ImagePushOptions is POST /images/{name}/push.
type ImagePushOptions struct {
	Tag      string
	Platform string
	Auth     *registry.AuthConfig
}

// ImageListOptions is GET /images/json.
type ImageListOptions struct {
	All        bool
	Digests    bool
	SharedSize bool
	Manifests  bool
	Filters    Filters
}

// DiskUsageOptions is GET /system/df; no types means all.
type DiskUsageOptions struct {
	Types   []string
	Verbose bool
}

// EventsOptions is GET /events; zero times are unset.
type EventsOptions struct {
	Since, Until time.Time
	Filters      Filters
}
