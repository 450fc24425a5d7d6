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
	{name: "run-127-no-wait-error", steps: []step{
		// A start that fails is reported once: the wait for the exit (or
		// the removal) the client set up before it gets no error of its
		// own to print.
		run("run --rm {image} no-such-command", exits(127), errHas("no-such-command"), errLacks("waiting for container")),
	}},
	{name: "create-refused-settings", cleanup: []string{"rm -f {name}"}, steps: []step{
		// dockerd refuses these at create, so a refused run leaves no
		// container (whose name a second try would find taken).
		run("run --name {name} --cpus 0.5 --cpu-quota 50000 {image} true", exits(125),
			errHas("Conflicting options: Nano CPUs and CPU Quota cannot both be set")),
		run("create --name {name} -m 64m --memory-swap 32m {image} true", exits(1),
			errHas("Minimum memoryswap limit should be larger than memory limit")),
		run("create --name {name} --cap-add NOSUCH {image} true", exits(1), errHas(`unknown capability: "CAP_NOSUCH"`)),
		run("create --name {name} -w relative {image} true", exits(1),
			errHas("the working directory 'relative' is invalid, it needs to be an absolute path")),
		run("create --name {name} --ipc container:{name}-none {image} true", exits(1), errHas("No such container: {name}-none")),
		run("ps -a -q --filter name={name}", out("")),
	}},
	{name: "run-stdin", legacy: true, steps: []step{
		run("run --rm -i {image} cat", stdin("piped in\n"), out("piped in")),
	}},
	// Piped input is data: the detach keys (ctrl-p,ctrl-q) in it reach
	// the container, as with dockerd, which watches a terminal only.
	{name: "run-stdin-detach-keys", legacy: true, steps: []step{
		run("run --rm -i {image} wc -c", stdin("ab\x10\x11cd"), out("6")),
		run("run --rm -i --detach-keys ctrl-a {image} wc -c", stdin("ab\x01cd"), out("5")),
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
	{name: "run-stdio-owner", steps: []step{
		// As with runc, stdio belongs to the process's user: a non-root
		// process can reopen it.
		run("run --rm -u 1000:1000 {image} sh -c 'echo to-out > /dev/stdout; echo to-err > /dev/stderr'",
			out("to-out"), errOut("to-err")),
		run("run --rm -t -u 1000 {image} sh -c 'stat -c %u $(tty)'", match(`^1000\r?$`)),
	}},
	{name: "run-own-session", cleanup: []string{"rm -f {name}"}, steps: []step{
		// The container's process and an exec's lead a session and a
		// process group of their own (fields 5 and 6 of stat), so a
		// group signal (kill 0) stays inside the container.
		run(`run --rm {image} sh -c 'set -- $(cat /proc/$$/stat); echo $1 $5 $6'`, out("1 1 1")),
		run(`run -d --name {name} {image} sh -c 'trap "" HUP; kill -HUP 0; sleep 1; echo survived; sleep 300'`),
		run("logs {name}", out("survived"), eventually()),
		run(`exec {name} sh -c 'set -- $(cat /proc/$$/stat); [ $1 = $5 ] && [ $1 = $6 ] && echo leader'`, out("leader")),
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
	// start -a attaches before it starts, to a stopped container too.
	{name: "start-attach-again", legacy: true, cleanup: []string{"rm -f {name} {name2}"}, steps: []step{
		run("create --name {name} {image} sh -c 'echo once; exit 5'"),
		run("start -a {name}", exits(5), out("once")),
		run("start -a {name}", exits(5), out("once")),
		run("create -i --name {name2} {image} sh -c 'cat; exit 6'"),
		run("start -ai {name2}", stdin("one\n"), exits(6), out("one")),
		run("start -ai {name2}", stdin("two\n"), exits(6), out("two")),
		run("attach {name2}", exits(1), errHas("You cannot attach to a stopped container, start it first")),
	}},
	// A kill that ends a container for good (any signal, when it has no
	// stop signal) thaws a paused one: it runs again, and says so.
	{name: "kill-paused", legacy: true, cleanup: []string{"rm -f {name}"}, steps: []step{
		// The shell is the container's pid 1, which drops a signal it
		// has no handler for: pause only once the trap is set.
		run(`run -d --name {name} {image} sh -c 'trap "echo usr1" USR1; echo ready; while true; do sleep 0.1; done'`),
		run("logs {name}", out("ready"), eventually()),
		run("pause {name}"),
		run("kill -s USR1 {name}", out("{name}")),
		run("inspect -f '{{.State.Status}} {{.State.Paused}}' {name}", out("running false")),
		run("logs {name}", out("ready\nusr1"), eventually()),
		run("events --since {since} --until {now} --filter container={name} --format '{{.Action}}'", has("pause\nkill\nunpause\n")),
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
		run("exec -i {name} wc -c", stdin("ab\x10\x11cd"), out("6")),
		run("exec {name} sh -c 'echo e >&2'", out(""), errOut("e")),
		run("exec -d {name} sh -c 'echo detached > /tmp/d'", out("")),
		run("exec {name} cat /tmp/d", out("detached"), eventually()),
		run("exec {name} no-such-command", exits(126), anyHas("no-such-command")),
		run("stop -t 0 {name}"),
		run("exec {name} true", exits(1), errHas("is not running")),
	}},
	{name: "exec-term", cleanup: []string{"rm -f {name} {name2}"}, steps: []step{
		// An exec's TERM=xterm comes with its own tty, not the container's.
		run("run -d -t --name {name} {image} sleep 300"),
		run("exec {name} sh -c 'echo term=$TERM'", out("term=")),
		run("exec -t {name} sh -c 'echo term=$TERM'", match(`^term=xterm\r?$`)),
		run("run -d --name {name2} -e TERM=dumb {image} sleep 300"),
		run("exec -t {name2} sh -c 'echo term=$TERM'", match(`^term=dumb\r?$`)),
	}},
	{name: "init-env", cleanup: []string{"rm -f {name}"}, steps: []step{
		// What the engine sets for --init's init alone stays out of the
		// command's environment and an exec's; the user's GOMAXPROCS stays.
		run("run --rm --init {image} sh -c 'echo ${GOMAXPROCS-unset} $(env | grep -c BERTH)'", out("unset 0")),
		run("run --rm --init -e GOMAXPROCS=3 {image} sh -c 'echo ${GOMAXPROCS-unset} $(env | grep -c BERTH)'", out("3 0")),
		run("run -d --init --name {name} {image} sleep 300"),
		run("exec {name} sh -c 'echo ${GOMAXPROCS-unset} $(env | grep -c BERTH)'", out("unset 0")),
	}},
	{name: "update-auto-remove", cleanup: []string{"rm -f {name}"}, steps: []step{
		run("run -d --rm --name {name} {image} sleep 300", saveAs("id")),
		run("update --restart always {name}", exits(1),
			errHas("Cannot update container {id}: Restart policy cannot be updated because AutoRemove is enabled for the container")),
	}},
	{name: "rename-errors", cleanup: []string{"rm -f {name} {name2} {name}-new"}, steps: []step{
		run("create --name {name} {image} true"),
		run("create --name {name2} {image} true", saveAs("id2")),
		run("rename {name} {name2}", exits(1),
			errHas(`Error when allocating new name: Conflict. The container name "/{name2}" is already in use by container "{id2}"`)),
		run("rename {name} x", exits(1),
			errHas("Error when allocating new name: Invalid container name (/x), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")),
		run("rename {name} {name}", exits(1), errHas("Renaming a container with the same name as its current name")),
		run("rename {name} {name}-new"),
		run("ps -a --filter name={name}-new --format '{{.Names}}'", out("{name}-new")),
	}},
	// exec -e NAME without a value (and none in the client's environment)
	// unsets NAME, as dockerd does.
	{name: "exec-env-unset", legacy: true, cleanup: []string{"rm -f {name}"}, steps: []step{
		run("run -d --name {name} -e BERTH_TEST_UNSET=1 {image} sleep 300"),
		run("exec -e BERTH_TEST_UNSET {name} sh -c 'echo ${BERTH_TEST_UNSET-unset}'", out("unset")),
		run("exec -e BERTH_TEST_UNSET=2 -e BERTH_TEST_NEVER {name} sh -c 'echo $BERTH_TEST_UNSET ${BERTH_TEST_NEVER-unset}'", out("2 unset")),
	}},
	{name: "pause", cleanup: []string{"rm -f {name}"}, steps: []step{
		run("run -d --name {name} {image} sleep 300"),
		run("pause {name}", out("{name}")),
		run("inspect -f '{{.State.Status}} {{.State.Paused}}' {name}", out("paused true")),
		run("exec {name} true", exits(1), errHas("Container {name} is paused, unpause the container before exec")),
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
	{name: "container-size", cleanup: []string{"rm -f {name} {name2}"}, steps: []step{
		// docker counts the length of the files a container wrote, not
		// the disk blocks they take, and no directories.
		run("create --name {name} {image} true"),
		run("ps -a -s --filter name={name} --format '{{.Size}}'", match(`^0B \(virtual [0-9.]+MB\)$`)),
		run("run --name {name2} {image} sh -c 'mkdir -p /a/b; printf 12345 > /a/b/f; ln /a/b/f /a/g'"),
		run("inspect -s -f '{{.SizeRw}}' {name2}", out("5")),
	}},
	{name: "inspect-paths-at-start", cleanup: []string{"rm -f {name} {name2}"}, steps: []step{
		// docker names the log and /etc files at the first start.
		run("create --name {name} {image} true"),
		run("inspect -f '[{{.LogPath}}][{{.HostsPath}}][{{.HostnamePath}}][{{.ResolvConfPath}}]' {name}", out("[][][][]")),
		run("start -a {name}"),
		run("inspect -f '{{.LogPath}}|{{.HostsPath}}' {name}", match(`^/\S+-json\.log\|/\S+/hosts$`)),
		// A start that failed named them too.
		run("create --name {name2} {image} no-such-command"),
		run("start {name2}", exits(1)),
		run("inspect -f '{{.LogPath}}|{{.HostsPath}}' {name2}", match(`^/\S+-json\.log\|/\S+/hosts$`)),
	}},
	{name: "inspect-config-volumes", cleanup: []string{"rm -f {name} {name2}"}, steps: []step{
		// No volumes is null, as docker shows it, not the CLI's {}.
		run("create --name {name} {image} true"),
		run("inspect -f '{{json .Config.Volumes}}' {name}", out("null")),
		run("create --name {name2} -v /data {image} true"),
		run("inspect -f '{{json .Config.Volumes}}' {name2}", out(`{"/data":{}}`)),
	}},
	{name: "inspect-host-defaults", cleanup: []string{"rm -f {name} {name2} {name3}"}, steps: []step{
		// What dockerd fills in HostConfig at create shows in inspect: swap
		// twice the memory limit, swappiness unset (the CLI's -1), 64 MiB
		// of /dev/shm, a private IPC namespace, the masked and read-only
		// paths (none when privileged), label=disable with host namespaces.
		run("create --name {name} -m 32m {image} true"),
		run("inspect -f '{{.HostConfig.MemorySwap}} {{.HostConfig.MemorySwappiness}} {{.HostConfig.ShmSize}} {{.HostConfig.IpcMode}} {{json .HostConfig.SecurityOpt}}' {name}",
			out("67108864 <nil> 67108864 private null")),
		run("inspect -f '{{.HostConfig.CgroupnsMode}} {{index .HostConfig.MaskedPaths 0}} {{json .HostConfig.ReadonlyPaths}}' {name}",
			match(`^(host|private) /proc/asound \["/proc/bus","/proc/fs","/proc/irq","/proc/sys","/proc/sysrq-trigger"\]$`)),
		// The swap limit does not follow a new memory limit by itself.
		run("update --memory 128m {name}", exits(1), errHas("update the memoryswap at the same time")),
		run("update --memory 128m --memory-swap 256m {name}", out("{name}")),
		run("create --name {name2} --pid host {image} true"),
		run("inspect -f '{{json .HostConfig.SecurityOpt}}' {name2}", out(`["label=disable"]`)),
		run("create --name {name3} --privileged {image} true"),
		run("inspect -f '{{json .HostConfig.MaskedPaths}} {{json .HostConfig.ReadonlyPaths}}' {name3}", out("null null")),
	}},
	// --details shows the attrs json-file keeps by --log-opt labels/env,
	// and a bad regexp fails the start with dockerd's words.
	{name: "logs-details", legacy: true, cleanup: []string{"rm -f {name} {name2}"}, steps: []step{
		run("run --name {name} -l foo=bar -e E1=a&b --log-opt labels=foo --log-opt env=E1 {image} echo hi", out("hi")),
		run("logs --details {name}", out("E1=a%26b,foo=bar hi")),
		run("create --name {name2} --log-opt env-regex=[ {image} true"),
		run("start {name2}", exits(1), errHas("failed to initialize logging driver")),
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
		// --until 0 is no bound (dockerd), not the epoch.
		run("logs --until 0 {name}", out("line-1\nline-2\nline-3")),
		run("logs {name}-nope", exits(1), errHas("no such container")),
	}},
	{name: "top", cleanup: []string{"rm -f {name}"}, steps: []step{
		run("run -d --name {name} {image} sleep 300"),
		run("top {name}", match(`\A\S*UID\s+PID\s+PPID`), has("sleep 300")),
		run("top {name} -o pid,comm", match(`\APID\s+COMMAND\n\d+\s+sleep$`)),
		// ps's own complaint, as docker passes it on.
		run("top {name} -o no-such-field", exits(1), errHas(`ps: error: unknown user-defined format specifier "no-such-field"`)),
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
	{name: "image-names", legacy: true, cleanup: []string{"rm -f {name3}", "rmi -f {name}:a {name2}:b {name2}:c"}, steps: []step{
		run(`import {tar} {name}:a`),
		run("tag {name}:a {name2}:b"),
		run("tag {name}:a {name2}:c"),
		// Only the rows of the repository asked for: no "<none>" row
		// for the image's other repository.
		run("images --format '{{.Repository}}:{{.Tag}}' {name2}:b", out("{name2}:b")),
		run("images --format '{{.Repository}}:{{.Tag}}' {name}", out("{name}:a")),
		// A repository without a tag saves all its tags.
		run("save -o {dir}/repo.tar {name2}", out("")),
		run("rmi {name2}:b {name2}:c"),
		run("load -i {dir}/repo.tar", has("Loaded image: {name2}:b", "Loaded image: {name2}:c")),
		// ps shows the image's ID once the name no longer names it.
		run("create --name {name3} {name2}:c true"),
		run("ps -a --filter name={name3} --format '{{.Image}}'", out("{name2}:c")),
		run("rmi {name2}:c", out("Untagged: {name2}:c")),
		run("ps -a --filter name={name3} --format '{{.Image}}'", match(shortID)),
	}},
	// The docker CLI 20.10 words a 404 of rmi itself ("Error: No such
	// image: x"); later clients print dockerd's message.
	{name: "image-not-found", steps: []step{
		run("rmi {name}-gone", exits(1), errHas("No such image: {name}-gone:latest")),
		run("image inspect {name}-gone", exits(1), errHas("No such image: {name}-gone:latest")),
		run("tag {name}-gone {name}:x", exits(1), errHas("No such image: {name}-gone:latest")),
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
	// Attributes and actions as dockerd writes them: rename's oldName keeps
	// the stored "/", exec_create and exec_start are the entrypoint, a
	// space and the arguments.
	{name: "events-rename-exec", cleanup: []string{"rm -f {name2}"}, steps: []step{
		run("run -d --name {name} {image} sleep 300"),
		run("exec {name} true"),
		run("exec {name} echo a b"),
		run("rename {name} {name2}"),
		run("events --since {since} --until {now} --filter container={name2} --filter event=rename --format '{{.Actor.Attributes.oldName}} {{.Actor.Attributes.name}}'",
			out("/{name} {name2}")),
		run("events --since {since} --until {now} --filter container={name} --format '[{{.Action}}]'",
			has("[exec_create: true ]", "[exec_start: true ]", "[exec_create: echo a b]")),
	}},
	{name: "events-top", legacy: true, cleanup: []string{"rm -f {name}"}, steps: []step{
		run("run -d --name {name} {image} sleep 300"),
		run("top {name}", has("sleep 300")),
		run("events --since {since} --until {now} --filter container={name} --filter event=top --format '{{.Action}} {{.Actor.Attributes.name}}'",
			out("top {name}")),
	}},
	// A health check is an exec to dockerd, with the exec events.
	{name: "events-health-exec", legacy: true, cleanup: []string{"rm -f {name}"}, steps: []step{
		run("run -d --name {name} --health-cmd true --health-interval 1s {image} sleep 300"),
		run("inspect -f '{{.State.Health.Status}}' {name}", out("healthy"), eventually()),
		run("events --since {since} --until {now} --filter container={name} --format '{{.Action}}'",
			has("exec_create: /bin/sh -c true\n", "exec_start: /bin/sh -c true\n", "exec_die\n", "health_status: healthy\n")),
		run("events --since {since} --until {now} --filter container={name} --filter event=exec_die --format '{{.Actor.Attributes.exitCode}}'",
			match("^0$")),
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
