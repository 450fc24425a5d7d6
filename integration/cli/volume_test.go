package cli_test

import (
	"testing"

	"github.com/berth-project/berth/internal/testenv/daemontest"
)

// TestVolumeCLI runs the volume rows (volume create/ls/inspect/rm/prune,
// -v, --mount, --tmpfs, --volumes-from, --read-only, rm -v, system df and
// prune --volumes) and the container filesystem rows (cp, diff, commit,
// export) with each client against a daemon of its own: prunes there see
// only what these rows made.
//
// Against dockerd (20.10 here, API 1.41) the rows expect what API 1.41
// means: volume prune removes every unused volume its filters select, not
// only anonymous ones, and the docker CLI refuses volume prune --all.
func TestVolumeCLI(t *testing.T) {
	e := startEngine(t)
	for _, c := range clients() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c := c.resolve(t)
			rows := append(volumeScenarios(e.d.Target(), c), fsScenarios()...)
			runTable(t, e, c, rows)
		})
	}
}

// anonymous is the label dockerd and berthd give the volumes they create
// for -v /path and an image's VOLUME; prune removes only those by default
// (API 1.42 on). A row can give it to a volume of its own to have one
// that prune treats as anonymous while its label filter keeps the row to
// itself.
const anonymous = "com.docker.volume.anonymous="

// volumeScenarios builds the volume rows for one client and target.
func volumeScenarios(target daemontest.Target, c client) []scenario {
	// api141: the request goes out at API 1.41, where prune takes every
	// unused volume (dockerd 20.10, or the docker CLI 20.10).
	api141 := target == daemontest.Docker || c.legacy
	pruneDefault := []stepOpt{has("Deleted Volumes:\n", "{name2}\n"), match(`Total reclaimed space: `)}
	leftAfterPrune := out("{name}")
	if api141 {
		pruneDefault = append(pruneDefault, has("{name}\n"))
		leftAfterPrune = out("")
	}
	rows := []scenario{
		{name: "volume-create-inspect-rm", legacy: true, cleanup: []string{"volume rm -f {name}"}, steps: []step{
			run("volume create --label berth.test={name} -o type=tmpfs -o device=tmpfs -o o=size=1m {name}", out("{name}")),
			run("volume create {name}", out("{name}")), // there already: the same volume
			run("volume ls -q --filter name={name}", out("{name}")),
			run("volume ls --filter label=berth.test={name} --format '{{.Driver}} {{.Name}}'", out("local {name}")),
			run("volume ls --filter label=berth.test={name}", match(`^DRIVER +VOLUME NAME\nlocal +{name}\n\z`)),
			run(`volume inspect -f '{{.Name}} {{.Driver}} {{.Scope}} {{index .Labels "berth.test"}} {{.Options.type}}' {name}`,
				out("{name} local local {name} tmpfs")),
			run("volume inspect -f '{{.Mountpoint}}' {name}", match(`/volumes/{name}/_data$`)),
			run("volume inspect {name}", has(`"Name": "{name}"`, `"Driver": "local"`)),
			run("volume rm {name}", out("{name}")),
			run("volume inspect {name}", exits(1), errHas("no such volume")),
			run("volume rm {name}", exits(1), errHas("no such volume")),
			run("volume rm -f {name}"),
		}},
		{name: "volume-create-generated-name", legacy: true, steps: []step{
			run("volume create", match(fullID), saveAs("vid")),
			run("volume inspect -f '{{.Name}}' {vid}", out("{vid}")),
			run("volume rm {vid}", out("{vid}")),
		}},
		{name: "volume-create-bad", legacy: true, steps: []step{
			run("volume create 'bad name'", exits(1), errHas("invalid characters")),
			run("volume create -d no-such-driver {name}", exits(1), errHas("no-such-driver")),
			run("volume inspect {name}", exits(1), errHas("no such volume")),
		}},
		{name: "volume-named-outlives-rm", legacy: true, cleanup: []string{"volume rm -f {name}"}, steps: []step{
			run("run --rm -v {name}:/data {image} sh -c 'echo kept > /data/f'"),
			run("run --rm -v {name}:/data {image} cat /data/f", out("kept")),
			run("volume ls -q --filter name={name} --filter dangling=true", out("{name}")),
		}},
		{name: "volume-in-use", legacy: true, cleanup: []string{"rm -f {name}", "volume rm -f {name2}"}, steps: []step{
			run("create --name {name} -v {name2}:/data {image} true"),
			run("volume rm {name2}", exits(1), errHas("volume is in use")),
			run("volume ls -q --filter name={name2} --filter dangling=false", out("{name2}")),
			run("volume ls -q --filter name={name2} --filter dangling=true", out("")),
			run("rm {name}"),
			run("volume rm {name2}", out("{name2}")),
		}},
		{name: "volume-prune", legacy: true, cleanup: []string{"rm -f {name3}", "volume rm -f {name} {name2} {name3}"}, steps: []step{
			run("volume create --label berth.test={name} {name}"),
			run("volume create --label berth.test={name} --label " + anonymous + " {name2}"),
			run("create --name {name3} -v {name3}:/data --label berth.test={name} {image} true"),
			run("volume prune -f --filter label=berth.test=nothing", out("Total reclaimed space: 0B")),
			run("volume prune -f --filter label=berth.test={name}", pruneDefault...),
			run("volume ls -q --filter label=berth.test={name}", leftAfterPrune),
			run("volume ls -q --filter name={name3}", out("{name3}")), // in use: kept
			run("volume prune --filter label=berth.test={name}", stdin("n\n"), has("Are you sure you want to continue? [y/N]")),
		}},
		{name: "volume-rm-v", legacy: true, cleanup: []string{"rm -f {name}"}, steps: []step{
			run("run --name {name} -v /anon {image} sh -c 'echo a > /anon/f'"),
			run("inspect -f '{{range .Mounts}}{{.Type}} {{.Destination}} {{.RW}} {{.Driver}}{{end}}' {name}", out("volume /anon true local")),
			run("inspect -f '{{range .Mounts}}{{.Name}}{{end}}' {name}", match(fullID), saveAs("anon")),
			run("volume inspect -f '{{.Name}}' {anon}", out("{anon}")),
			run("rm -v {name}", out("{name}")),
			run("volume inspect {anon}", exits(1), errHas("no such volume")),
		}},
		{name: "volume-run-rm-removes-anonymous", legacy: true, cleanup: []string{"rm -f {name}"}, steps: []step{
			// --rm removes the container's anonymous volumes with it once
			// it exits by itself.
			run("run -d --rm --name {name} -v /anon {image} sleep 3"),
			run("inspect -f '{{range .Mounts}}{{.Name}}{{end}}' {name}", match(fullID), saveAs("anon")),
			run("volume inspect {anon}", exits(1), errHas("no such volume"), eventually()),
		}},
		{name: "volume-v-ro", legacy: true, cleanup: []string{"volume rm -f {name}"}, steps: []step{
			run("run --rm -v {name}:/data {image} sh -c 'echo rw > /data/f'"),
			run("run --rm -v {name}:/data:ro {image} cat /data/f", out("rw")),
			run("run --rm -v {name}:/data:ro {image} touch /data/g", exits(1), errHas("read-only file system")),
		}},
		{name: "volume-v-bind", legacy: true, cleanup: []string{"rm -f {name}"}, steps: []step{
			run("run --rm -v {dir}:/host {image} sh -c 'echo hi > /host/f'"),
			run("run --rm -v {dir}:/host:ro {image} cat /host/f", out("hi")),
			run("run --rm -v {dir}:/host:ro {image} touch /host/g", exits(1), errHas("read-only file system")),
			run("create --name {name} -v {dir}:/host:ro {image}"),
			run("inspect -f '{{range .Mounts}}{{.Type}} {{.Source}} {{.Destination}} {{.Mode}} {{.RW}} {{.Propagation}}{{end}}' {name}",
				out("bind {dir} /host ro false rprivate")),
			run("inspect -f '{{json .HostConfig.Binds}}' {name}", out(`["{dir}:/host:ro"]`)),
		}},
		{name: "volume-v-named-inspect", legacy: true, cleanup: []string{"rm -f {name}", "volume rm -f {name2}"}, steps: []step{
			run("create --name {name} -v {name2}:/data {image}"),
			run("inspect -f '{{range .Mounts}}{{.Type}} {{.Name}} {{.Destination}} {{.Driver}} {{.Mode}} {{.RW}}{{end}}' {name}",
				out("volume {name2} /data local z true")),
			run("volume ls -q --filter name={name2}", out("{name2}")),
		}},
		{name: "volume-copy-up", legacy: true, cleanup: []string{"volume rm -f {name} {name2} {name3}"}, steps: []step{
			// A new volume is seeded with the image's files at its
			// destination; nocopy leaves it empty.
			run("run --rm -v {name}:/etc {image} cat /etc/group", has("root:x:0:")),
			run("run --rm -v {name}:/x {image} cat /x/group", has("root:x:0:")),
			run("run --rm -v {name3}:/usr {image} ls /usr", out("bin")),
			run("run --rm -v {name2}:/usr:nocopy {image} ls /usr", out("")),
			run("run --rm --mount src={name2},dst=/usr,volume-nocopy {image} ls /usr", out("")),
		}},
		{name: "volume-mount", legacy: true, cleanup: []string{"volume rm -f {name}"}, steps: []step{
			run("run --rm --mount type=volume,src={name},dst=/data {image} sh -c 'echo m > /data/f'"),
			run("run --rm --mount source={name},target=/d,readonly {image} cat /d/f", out("m")),
			run("run --rm --mount src={name},dst=/d,ro {image} touch /d/g", exits(1), errHas("read-only file system")),
			run("run --rm --mount type=bind,src={dir},dst=/b {image} sh -c 'echo b > /b/f'"),
			run("run --rm --mount type=bind,source={dir},destination=/b,readonly {image} cat /b/f", out("b")),
			run("run --rm --mount type=bind,src={dir}/nonexistent,dst=/b {image} true", exits(125), errHas("bind source path does not exist")),
			run("run --rm --mount type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1770 {image} sh -c 'grep \" /t \" /proc/mounts; stat -c %a /t'",
				has("tmpfs /t tmpfs", "size=1024k", "1770")),
			run("run --rm --mount type=bind,dst=/b {image} true", exits(125)),
		}},
		{name: "volume-tmpfs", legacy: true, steps: []step{
			run("run --rm --tmpfs /t:size=2m {image} sh -c 'grep \" /t \" /proc/mounts'", has("tmpfs /t tmpfs", "size=2048k")),
			run("run --rm --tmpfs /t {image} sh -c 'echo x > /t/f && cat /t/f'", out("x")),
		}},
		{name: "volume-read-only-rootfs", legacy: true, cleanup: []string{"volume rm -f {name}"}, steps: []step{
			run("run --rm --read-only -v {name}:/data --tmpfs /tmp {image} sh -c 'touch /data/ok /tmp/ok && echo writable'", out("writable")),
			run("run --rm --read-only -v {name}:/data {image} touch /x", exits(1), errHas("read-only file system")),
		}},
		{name: "volume-volumes-from", legacy: true, cleanup: []string{"rm -f {name}", "volume rm -f {name2}"}, steps: []step{
			run("create --name {name} -v {name2}:/data -v {dir}:/host {image}"),
			run("run --rm --volumes-from {name} {image} sh -c 'echo shared > /data/f && ls /host'"),
			run("run --rm -v {name2}:/x {image} cat /x/f", out("shared")),
			run("run --rm --volumes-from {name}:ro {image} touch /data/g", exits(1), errHas("read-only file system")),
			run("run --rm --volumes-from nosuch-{name} {image} true", exits(125), errHas("nosuch-{name}")),
		}},
		{name: "volume-v-bad", legacy: true, steps: []step{
			run("run --rm -v a:b:c:d {image} true", exits(125), errHas("invalid")),
			run("run --rm -v {name}:relative {image} true", exits(125), errHas("relative")),
		}},
		{name: "volume-system-df", legacy: true, cleanup: []string{"volume rm -f {name}"}, steps: []step{
			run("run --rm -v {name}:/data {image} sh -c 'echo 0123456789 > /data/f'"),
			run("system df -v", has("Local Volumes space usage:", "VOLUME NAME")),
			run("system df -v", match(`(?m)^{name} +0 +\S+`)),
			run("system df --format '{{.Type}}'", has("Local Volumes")),
		}},
		{name: "volume-system-prune", legacy: true, cleanup: []string{"volume rm -f {name}"}, steps: []step{
			run("volume create --label berth.test={name} --label " + anonymous + " {name}"),
			run("system prune -f --filter label=berth.test={name}", match(`Total reclaimed space: `)),
			run("volume ls -q --filter name={name}", out("{name}")), // no --volumes: kept
			run("system prune -f --volumes --filter label=berth.test={name}", has("Deleted Volumes:\n{name}\n")),
			run("volume ls -q --filter name={name}", out("")),
		}},
	}
	if !c.legacy {
		rows = append(rows, scenario{name: "volume-system-prune-until", steps: []step{
			run("system prune -f --volumes --filter until=1h", exits(1), errHas(`The "until" filter is not supported with "--volumes"`)),
		}})
	}
	if api141 && !c.legacy {
		rows = append(rows, scenario{name: "volume-prune-all-old-api", steps: []step{
			run("volume prune -f -a", exits(1), errHas(`"--all" requires API version 1.42`)),
		}})
	}
	if !api141 {
		rows = append(rows, scenario{name: "volume-prune-all", cleanup: []string{"volume rm -f {name} {name2}"}, steps: []step{
			run("volume create --label berth.test={name} {name}"),
			run("volume create --label berth.test={name} {name2}"),
			run("volume prune -f --filter label=berth.test={name}", out("Total reclaimed space: 0B")),
			run("volume prune -f -a --filter label=berth.test={name}", has("{name}\n", "{name2}\n")),
			run("volume ls -q --filter label=berth.test={name}", out("")),
			run("volume prune -a -f --filter all=1", exits(1), errHas("conflicting options")),
		}})
	}
	return rows
}
