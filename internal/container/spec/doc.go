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
//
// Where Berth differs from dockerd, on purpose or for now:
//   - No AppArmor profile of its own: on a host with AppArmor only a profile
//     the user names is applied (docker loads "docker-default"); without
//     AppArmor every apparmor= option is accepted and ignored, as docker does.
//     SELinux labels are accepted and ignored.
//   - The bridge and default networks are a private network namespace with
//     only loopback until Berth has networking; user networks are NotFound.
//   - Volumes are the daemon's: it parses -v, --mount and --volumes-from at
//     create (ParseBind, ParseMount, ParseVolumesFrom, docker's rules),
//     records the mount points, and at start passes them resolved
//     (MountFor) in Input.Mounts. Without Input.Mounts, Generate parses the
//     HostConfig itself: volumes are then NotImplemented, and a -v host
//     path that does not exist is an error (the daemon creates it, as
//     docker).
//   - --cgroup container:X is NotImplemented.
//   - User namespaces (--userns other than host) are refused.
//   - --oom-kill-disable left unset stays unset (docker writes false).
package spec
