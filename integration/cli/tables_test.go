package cli_test

// The regular expressions tables use.
const (
	fullID  = `^[0-9a-f]{64}$`
	shortID = `^[0-9a-f]{12}$`
	imageID = `^sha256:[0-9a-f]{64}$`
)

// runScenarios: docker run, its exit codes (125 for the client's or the
// daemon's errors, 126 when the command cannot be invoked, 127 when it is
// not found, else the container's own), stdin, and docker's options.
var runScenarios = []scenario{
	{name: "run-echo", legacy: true, steps: []step{
		run("run --rm {image} echo hello", out("hello")),
	}},
	{name: "run-exit-code", legacy: true, steps: []step{
		run("run --rm {image} sh -c 'exit 3'", exits(3)),
	}},
	{name: "run-125-bad-flag", steps: []step{
		run("run --rm --no-such-flag {image} true", exits(125), errHas("unknown flag")),
	}},
	{name: "run-125-no-image", steps: []step{
		run("run --rm --pull never {name}-missing:v1 true", exits(125), errHas("No such image")),
	}},
	{name: "run-126-not-executable", legacy: true, steps: []step{
		run("run --rm {image} /etc", exits(126)),
	}},
	{name: "run-127-not-found", legacy: true, steps: []step{
		run("run --rm {image} no-such-command", exits(127), errHas("no-such-command")),
	}},
	{name: "run-stdin", legacy: true, steps: []step{
		run("run --rm -i {image} cat", stdin("piped in\n"), out("piped in")),
	}},
	{name: "run-stderr", steps: []step{
		run("run --rm {image} sh -c 'echo to-out; echo to-err >&2'", out("to-out"), errOut("to-err")),
	}},
	{name: "run-options", steps: []step{
		run("run --rm -e FOO=bar -u nobody -w /tmp --hostname {name} {image} sh -c 'echo $FOO $(id -u) $(pwd) $(hostname)'",
			out("bar 65534 /tmp {name}")),
		run("run --rm --entrypoint echo {image} from-entrypoint", out("from-entrypoint")),
		run("run --rm --read-only {image} touch /x", exits(1), errHas("read-only")),
	}},
	{name: "run-d", legacy: true, cleanup: []string{"rm -f {name}"}, steps: []step{
		run("run -d --name {name} {image} sleep 300", match(fullID), saveAs("id")),
		run("ps --filter name={name} --format '{{.Names}} {{.Status}}'", match(`^{name} Up`)),
		run("inspect -f '{{.Id}} {{.State.Running}} {{.Name}}' {name}", out("{id} true /{name}")),
	}},
	{name: "run-rm-gone", steps: []step{
		run("run --rm --name {name} {image} true"),
		run("ps -a -q --filter name={name}", out(""), eventually()),
	}},
}

// lifecycleScenarios: stop, kill, rm, wait, restart and restart policies,
// exec.
var lifecycleScenarios = []scenario{
	{name: "stop", legacy: true, cleanup: []string{"rm -f {name} {name2}"}, steps: []step{
		// The trap turns SIGTERM into exit 7, so the exit code shows the
		// signal arrived; "ready" shows the trap is set.
		run(`run -d --name {name} {image} sh -c 'trap "exit 7" TERM; echo ready; while true; do sleep 0.1; done'`),
		run("logs {name}", out("ready"), eventually()),
		run("stop -t 10 {name}", out("{name}")),
		run("inspect -f '{{.State.Status}} {{.State.ExitCode}}' {name}", out("exited 7")),
		run("stop {name}", out("{name}")),
		// sleep as pid 1 ignores SIGTERM: stop kills it after the timeout.
		run("run -d --name {name2} {image} sleep 300"),
		run("stop -t 1 {name2}", out("{name2}")),
		run("inspect -f '{{.State.Status}} {{.State.ExitCode}}' {name2}", out("exited 137")),
	}},
	{name: "kill", cleanup: []string{"rm -f {name} {name2}"}, steps: []step{
		run("run -d --name {name} {image} sleep 300"),
		run("kill {name}", out("{name}")),
		run("inspect -f '{{.State.Status}} {{.State.ExitCode}}' {name}", out("exited 137"), eventually()),
		// Once, as docker says it: "cannot kill container: NAME: container ID is not running".
		run("kill {name}", exits(1), errHas("daemon: cannot kill container: {name}: container "), errHas("is not running")),
		run(`run -d --name {name2} {image} sh -c 'trap "exit 9" USR1; echo ready; while true; do sleep 0.1; done'`),
		run("logs {name2}", out("ready"), eventually()),
		run("kill -s USR1 {name2}", out("{name2}")),
		run("wait {name2}", out("9")),
	}},
	{name: "rm", legacy: true, cleanup: []string{"rm -f {name} {name2}"}, steps: []step{
		run("create --name {name} {image} true", match(fullID)),
		run("rm {name}", out("{name}")),
		run("inspect {name}", exits(1), errHas("no such")),
		run("run -d --name {name2} {image} sleep 300"),
		run("rm {name2}", exits(1), errHas("stop the container before")),
		run("rm -f {name2}", out("{name2}")),
		run("ps -a -q --filter name={name2}", out("")),
		run("rm {name2}", exits(1), errHas("no such container")),
	}},
	{name: "wait", legacy: true, cleanup: []string{"rm -f {name}"}, steps: []step{
		run("run -d --name {name} {image} sh -c 'sleep 1; exit 42'"),
		run("wait {name}", out("42")),
		run("wait {name}", out("42")),
		run("wait {name}-nope", exits(1), errHas("no such container")),
	}},
	{name: "restart-policy", cleanup: []string{"rm -f {name}"}, steps: []step{
		run("run -d --name {name} --restart on-failure:2 {image} sh -c 'exit 3'"),
		run("inspect -f '{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}' {name}", out("2 exited 3"), eventually()),
		run("inspect -f '{{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}' {name}", out("on-failure 2")),
	}},
	{name: "restart", cleanup: []string{"rm -f {name}"}, steps: []step{
		run("run -d --name {name} {image} sleep 300"),
		run("inspect -f '{{.State.Pid}}' {name}", saveAs("pid")),
		run("restart -t 0 {name}", out("{name}")),
		run("inspect -f '{{.State.Running}} {{.RestartCount}}' {name}", out("true 0")),
		run("inspect -f '{{.State.Pid}}' {name}", match(`^[1-9][0-9]*$`)),
	}},
	{name: "exec", legacy: true, cleanup: []string{"rm -f {name}"}, steps: []step{
		run("run -d --name {name} --hostname {name} {image} sleep 300"),
		run("exec {name} hostname", out("{name}")),
		run("exec -e X=1 -w /tmp -u nobody {name} sh -c 'echo $X $(pwd) $(id -u)'", out("1 /tmp 65534")),
		run("exec {name} sh -c 'exit 5'", exits(5)),
		run("exec -i {name} cat", stdin("into exec\n"), out("into exec")),
		run("exec {name} sh -c 'echo e >&2'", out(""), errOut("e")),
		run("exec -d {name} sh -c 'echo detached > /tmp/d'", out("")),
		run("exec {name} cat /tmp/d", out("detached"), eventually()),
		run("exec {name} no-such-command", exits(126), anyHas("no-such-command")),
		run("stop -t 0 {name}"),
		run("exec {name} true", exits(1), errHas("is not running")),
	}},
	{name: "pause", cleanup: []string{"rm -f {name}"}, steps: []step{
		run("run -d --name {name} {image} sleep 300"),
		run("pause {name}", out("{name}")),
		run("inspect -f '{{.State.Status}} {{.State.Paused}}' {name}", out("paused true")),
		run("unpause {name}", out("{name}")),
		run("inspect -f '{{.State.Status}} {{.State.Paused}}' {name}", out("running false")),
	}},
}

// queryScenarios: ps, inspect, logs, top, stats.
var queryScenarios = []scenario{
	{name: "ps-filters", legacy: true, cleanup: []string{"rm -f {name} {name2}"}, setup: []step{
		run("run -d --name {name} --label berth.test={name} --label role=a {image} sleep 300"),
		run("create --name {name2} --label berth.test={name} --label role=b {image} true"),
	}, steps: []step{
		run("ps --filter label=berth.test={name} --format '{{.Names}}'", out("{name}")),
		run("ps -a --filter label=berth.test={name} --format '{{.Names}}'", lines(2), has("{name}\n", "{name2}\n")),
		run("ps -a --filter label=berth.test={name} --filter status=created --format '{{.Names}}'", out("{name2}")),
		run("ps -a --filter label=berth.test={name} --filter label=role=b --format '{{.Names}} {{.Label \"role\"}}'", out("{name2} b")),
		run("ps --filter label=berth.test={name} --format '{{.Image}}|{{.Command}}'", out(`{image}|"sleep 300"`)),
		run("ps -a --no-trunc -q --filter name={name2}", match(fullID)),
		run("ps -q --filter label=berth.test={name}", match(shortID)),
		run("ps -a --filter label=berth.test={name} --filter ancestor={image} -q", lines(2)),
		run("ps --filter label=berth.test={name} --format 'table {{.Names}}\t{{.Status}}'", match(`\ANAMES\s+STATUS\n{name}\s+Up`)),
		run("ps -a --filter label=berth.test={name} --filter status=exited -q", out("")),
		run("ps --filter no-such-filter=1", exits(1), errHas("invalid filter")),
	}},
	{name: "inspect", legacy: true, cleanup: []string{"rm -f {name}"}, setup: []step{
		run("run -d --name {name} -e FOO=bar --label k=v --restart unless-stopped {image} sleep 300"),
	}, steps: []step{
		run(`inspect -f '{{.Config.Image}} {{json .Config.Cmd}} {{index .Config.Labels "k"}} {{.HostConfig.RestartPolicy.Name}}' {name}`,
			out(`{image} ["sleep","300"] v unless-stopped`)),
		run("inspect -f '{{range .Config.Env}}{{println .}}{{end}}' {name}", has("FOO=bar\n")),
		run("inspect --type container -f '{{.State.Pid}}' {name}", match(`^[1-9][0-9]*$`)),
		run("container inspect -f '{{json .State.Status}}' {name}", out(`"running"`)),
		run("inspect {name}", match(`"Id": "[0-9a-f]{64}"`), has(`"Name": "/{name}"`)),
		run("inspect -f '{{.Id}}' {name}-nope", exits(1), errHas("no such")),
		run("image inspect -f '{{json .Config.Cmd}}' {image}", out(`["sh"]`)),
	}},
	{name: "logs", legacy: true, cleanup: []string{"rm -f {name} {name2}"}, setup: []step{
		run("run --name {name} {image} sh -c 'for i in 1 2 3; do echo line-$i; done'", out("line-1\nline-2\nline-3")),
		// Another container for stderr: the order of lines across the two
		// streams is not kept.
		run("run --name {name2} {image} sh -c 'echo out; echo err >&2'", out("out"), errOut("err")),
	}, steps: []step{
		run("logs {name}", out("line-1\nline-2\nline-3"), errOut("")),
		run("logs {name2}", out("out"), errOut("err")),
		run("logs --tail 2 {name}", out("line-2\nline-3")),
		run("logs -t {name}", match(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z line-1$`)),
		run("logs --since 1h {name}", lines(3)),
		run("logs --until 1970-01-02T00:00:00Z {name}", out(""), errOut("")),
		run("logs {name}-nope", exits(1), errHas("no such container")),
	}},
	{name: "top", cleanup: []string{"rm -f {name}"}, steps: []step{
		run("run -d --name {name} {image} sleep 300"),
		run("top {name}", match(`\A\S*UID\s+PID\s+PPID`), has("sleep 300")),
	}},
	{name: "stats", cleanup: []string{"rm -f {name}"}, steps: []step{
		run("run -d --name {name} {image} sleep 300"),
		run("stats --no-stream --format '{{.Name}} {{.MemUsage}}' {name}",
			match(`^{name} [0-9.]+[kKMG]?i?B / [0-9.]+[kKMGTP]?i?B$`)),
		run("stats --no-stream --format '{{.PIDs}}' {name}", out("1")),
	}},
}

// imageScenarios: import, save/load, tag, rmi, images, and pull/push
// against a local registry.
var imageScenarios = []scenario{
	{name: "import", cleanup: []string{"rmi -f {name}:v1 {name}:v2"}, steps: []step{
		run(`import --change 'CMD ["echo","imported"]' {tar} {name}:v1`, match(imageID)),
		run("run --rm {name}:v1", out("imported")),
		run("import - {name}:v2", stdinFile("{tar}"), match(imageID)),
		run("images --format '{{.Repository}}:{{.Tag}}' {name}", lines(2), has("{name}:v1", "{name}:v2")),
		run("image inspect -f '{{json .Config.Cmd}}' {name}:v2", out("null")),
		run("rmi {name}:v1 {name}:v2", has("Untagged: {name}:v1", "Untagged: {name}:v2")),
	}},
	{name: "save-load", legacy: true, cleanup: []string{"rmi -f {name}:v1"}, steps: []step{
		run(`import --change 'CMD ["echo","saved"]' {tar} {name}:v1`),
		run("save -o {dir}/img.tar {name}:v1", out("")),
		run("rmi {name}:v1", has("Untagged: {name}:v1", "Deleted: sha256:")),
		run("image inspect {name}:v1", exits(1), errHas("no such image")),
		run("load -i {dir}/img.tar", has("Loaded image: {name}:v1")),
		run("run --rm {name}:v1", out("saved")),
		run("rmi {name}:v1"),
		run("load", stdinFile("{dir}/img.tar"), has("Loaded image: {name}:v1")),
		run("run --rm {name}:v1", out("saved")),
	}},
	{name: "tag-rmi", legacy: true, cleanup: []string{"rmi -f {name}:a {name}:b", "rm -f {name2}"}, steps: []step{
		run(`import {tar} {name}:a`),
		run("tag {name}:a {name}:b", out("")),
		run("images -q {name}", lines(2), match(shortID)),
		run("images --format '{{.Tag}}' {name}", lines(2)),
		run("rmi {name}:a", out("Untagged: {name}:a")),
		run("create --name {name2} {name}:b true"),
		run("rmi {name}:b", exits(1), errHas("container")),
		run("rm {name2}"),
		run("rmi {name}:b", has("Untagged: {name}:b", "Deleted: sha256:")),
		run("rmi {name}:b", exits(1), errHas("no such image")),
	}},
	{name: "registry", legacy: true, registry: true, cleanup: []string{"rmi -f {reg}/{name}:v1 {reg}/{name}:v2"}, steps: []step{
		run(`import --change 'CMD ["echo","pushed"]' {tar} {reg}/{name}:v1`),
		run("push {reg}/{name}:v1", match(`v1: digest: sha256:[0-9a-f]{64} size: \d+`)),
		run("tag {reg}/{name}:v1 {reg}/{name}:v2"),
		run("push {reg}/{name}:v2", has("Layer already exists")),
		run("rmi {reg}/{name}:v1 {reg}/{name}:v2", has("Deleted: sha256:")),
		run("pull {reg}/{name}:v1", has("Downloaded newer image for {reg}/{name}:v1")),
		run("run --rm {reg}/{name}:v1", out("pushed")),
		run("pull -q {reg}/{name}:v2", out("{reg}/{name}:v2")),
		run("pull {reg}/{name}:v2", has("Image is up to date for {reg}/{name}:v2")),
		run("pull {reg}/{name}:nope", exits(1), errHas("not found")),
	}},
}

// systemScenarios: events, info, version.
var systemScenarios = []scenario{
	{name: "events", cleanup: []string{"rm -f {name}"}, steps: []step{
		run("run --name {name} {image} sh -c 'exit 5'", exits(5)),
		run("events --since {since} --until {now} --filter container={name} --format '{{.Type}} {{.Action}}'",
			has("container create\n", "container start\n", "container die\n")),
		run("events --since {since} --until {now} --filter container={name} --filter event=die --format '{{.Actor.Attributes.exitCode}} {{.Actor.Attributes.name}}'",
			out("5 {name}")),
		run("rm {name}"),
		run("events --since {since} --until {now} --filter container={name} --filter event=destroy --format '{{.Action}}'",
			out("destroy"), eventually()),
		run("events --since {now} --until {now} --filter container={name}", out("")),
	}},
	{name: "info", legacy: true, steps: []step{
		run("info --format '{{.OSType}} {{.Architecture}}'", out("linux x86_64")),
		run("info --format '{{.Images}}'", match(`^[1-9][0-9]*$`)),
		run("info", has("Server Version:")),
	}},
	{name: "version", legacy: true, steps: []step{
		run("version --format '{{.Server.Os}}/{{.Server.Arch}}'", out("linux/amd64")),
		run("version --format '{{.Server.APIVersion}} {{.Server.MinAPIVersion}}'", match(`^1\.\d+ 1\.\d+$`)),
		run("version", has("Server:")),
	}},
}
