// Package spec turns a docker container (the Engine API's container.Config
// and container.HostConfig, plus the image's config) into the OCI runtime
// spec that berth-runtime, runc or crun runs, with the defaults dockerd and
// containerd give: docker's 14 capabilities, its seccomp profile, its masked
// and read-only paths, its mounts, device rules, namespaces and cgroup path.
//
// Generate validates everything first, as a list of named checks (validate.go),
// and only then builds the spec; bad user input is an error of class
// errdefs.ErrInvalidParameter carrying docker's own wording where docker has
// one, so the docker CLI prints what a docker user expects.
//
// Generate has no side effects: it reads the host (capabilities, cgroup
// layout, device nodes, the rootfs's /etc/passwd and /etc/group) but changes
// nothing. It is Linux only, like the daemon that calls it.
package spec
