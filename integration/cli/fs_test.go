package cli_test

// fsScenarios: docker cp (both ways, -a, -L, tar streams, the copy rules,
// symlinks that lead out of the container), diff, commit and export. The
// local side lives in the row's {dir}, made by a container with {dir}
// bound (the rows run the client only).
func fsScenarios() []scenario {
	// local makes {dir}/file ("hello"), {dir}/tree/sub/b ("b") and
	// {dir}/in.tar (file) as root.
	local := run("run --rm -v {dir}:/d {image} sh -c 'echo hello > /d/file && mkdir -p /d/tree/sub && echo b > /d/tree/sub/b && tar -cf /d/in.tar -C /d file'")
	// see runs a command in a container with {dir} at /d.
	see := func(cmd string, opts ...stepOpt) step {
		return run("run --rm -v {dir}:/d {image} sh -c '"+cmd+"'", opts...)
	}
	return []scenario{
		{name: "cp-into-stopped", legacy: true, cleanup: []string{"rm -f {name}"}, setup: []step{local}, steps: []step{
			run("create --name {name} {image}"),
			run("cp {dir}/file {name}:/tmp", out("")),
			run("cp {dir}/file {name}:/tmp/renamed"),
			run("cp {dir}/tree {name}:/tmp/newtree"),
			run("cp {dir}/tree {name}:/root"),
			run("cp {dir}/tree/. {name}:/home"),
			run("cp - {name}:/var", stdinFile("{dir}/in.tar")),
			run("diff {name}", has("A /tmp/file\n", "A /tmp/renamed\n", "A /tmp/newtree/sub/b\n", "A /root/tree/sub/b\n",
				"A /home/sub/b\n", "A /var/file\n")),
			run("cp {name}:/tmp/renamed -", has("hello\n")),
			run("cp {dir}/tree {name}:/tmp/file", exits(1), errHas("cannot copy directory")),
			run("cp {dir}/file {name}:/tmp/nodir/", exits(1), errHas("no such directory")),
			run("cp - {name}:/tmp/file", stdinFile("{dir}/in.tar"), exits(1), errHas("must be a directory")),
			run("cp {dir}/nothere {name}:/tmp", exits(1), errHas("no such file or directory")),
			run("cp {dir}/file {name}:/nothere/x", exits(1), errHas("nothere")),
			run("cp {dir}/file nosuch-{name}:/tmp", exits(1), errHas("nosuch-{name}")),
		}},
		{name: "cp-out", legacy: true, cleanup: []string{"rm -f {name}"}, setup: []step{local}, steps: []step{
			run("run --name {name} {image} sh -c 'mkdir -p /t/sub && echo one > /t/sub/f && ln -s /etc/group /t/link'"),
			run("cp {name}:/t/sub/f {dir}/got"),
			run("cp {name}:/t {dir}/t2"),
			run("cp {name}:/t/. {dir}/tree"),
			run("cp {name}:/t/link {dir}/link1"),
			run("cp -L {name}:/t/link {dir}/link2"),
			see("cat /d/got /d/t2/sub/f /d/tree/sub/f && readlink /d/link1 && head -1 /d/link2", out("one\none\none\n/etc/group\nroot:x:0:")),
			run("cp {name}:/nothere {dir}/x", exits(1), errHas("/nothere")),
			run("cp {name}:/t {dir}/file", exits(1), errHas("cannot copy directory")),
			run("cp {name}:/t/sub/f {dir}/nodir/x", exits(1), errHas("nodir")),
			run("cp {name}:/t {name}:/u", exits(1), errHas("copying between containers is not supported")),
			run("cp {dir}/file {dir}/other", exits(1), errHas("must specify at least one container source")),
		}},
		{name: "cp-archive-owner", legacy: true, cleanup: []string{"rm -f {name}"}, setup: []step{local}, steps: []step{
			// The archive's owners are kept; with -a the files belong to
			// the container's user instead (dockerd's copyUIDGID).
			see("chown 1234:5678 /d/file"),
			run("run -d --name {name} -u nobody {image} sleep 300"),
			run("cp {dir}/file {name}:/tmp/plain"),
			run("cp -a {dir}/file {name}:/tmp/kept"),
			run("exec {name} stat -c %u:%g /tmp/plain /tmp/kept", out("1234:5678\n65534:65534")),
		}},
		{name: "cp-running", legacy: true, cleanup: []string{"rm -f {name}", "volume rm -f {name}"}, setup: []step{local}, steps: []step{
			run("run -d --name {name} -v {name}:/vol {image} sleep 300"),
			run("cp {dir}/file {name}:/vol/"),
			run("exec {name} cat /vol/file", out("hello")),
			run("exec {name} sh -c 'ln -s ../../../../../../etc/{name} /tmp/escape'"),
			run("cp {dir}/file {name}:/tmp/escape"),
			run("exec {name} cat /etc/{name}", out("hello")),
			// The host's /etc was not written.
			run("run --rm -v /etc:/hostetc:ro {image} sh -c 'test ! -e /hostetc/{name}'"),
			run("exec {name} sh -c 'ln -s /etc/group /tmp/abs'"),
			run("cp -L {name}:/tmp/abs {dir}/abs"),
			see("head -1 /d/abs", out("root:x:0:")),
		}},
		{name: "diff", legacy: true, cleanup: []string{"rm -f {name}"}, steps: []step{
			run("run --name {name} {image} sh -c 'echo x > /tmp/new && mkdir /newdir && rm /etc/group && echo y >> /etc/passwd'"),
			run("diff {name}", has("C /etc\n", "D /etc/group\n", "C /etc/passwd\n", "A /newdir\n", "C /tmp\n", "A /tmp/new\n"), lines(6)),
			run("container diff {name}", lines(6)),
			run("diff nosuch-{name}", exits(1), errHas("nosuch-{name}")),
		}},
		{name: "commit", legacy: true, cleanup: []string{"rm -f {name} {name2}", "rmi -f {name}:v1 {name}:v2"}, steps: []step{
			run("run --name {name} {image} sh -c 'echo committed > /hello'"),
			run(`commit -a me -m msg -c 'CMD ["cat","/hello"]' -c 'ENV FOO=bar' -c 'LABEL k=v' {name} {name}:v1`, match(imageID)),
			run("run --rm {name}:v1", out("committed")),
			run("run --rm {name}:v1 sh -c 'echo $FOO'", out("bar")),
			run("image inspect -f '{{.Author}} {{.Comment}} {{.Config.Cmd}} {{.Config.Labels.k}}' {name}:v1", out("me msg [cat /hello] v")),
			run("history --format '{{.Comment}}' {name}:v1", has("msg")),
			run("commit -c 'BOGUS x' {name}", exits(1), errHas("not a valid change command")),
			run("commit nosuch-{name}", exits(1), errHas("nosuch-{name}")),
			// A running container is paused while committed, then runs on.
			run("run -d --name {name2} {image} sh -c 'echo up > /up; sleep 300'"),
			// run -d returns once the process starts, maybe before its echo.
			run("exec {name2} sh -c 'until [ -s /up ]; do sleep 0.05; done; cat /up'", out("up")),
			run("commit {name2} {name}:v2", match(imageID)),
			run("inspect -f '{{.State.Status}}' {name2}", out("running")),
			run("commit --pause=false {name2}", match(imageID), saveAs("untagged")),
			run("run --rm {name}:v2 cat /up", out("up")),
			run("rmi {untagged}"),
		}},
		{name: "export", legacy: true, cleanup: []string{"rm -f {name}", "volume rm -f {name}-vol", "rmi -f {name}:imported"}, steps: []step{
			run("run --name {name} -v {name}-vol:/vol {image} sh -c 'echo e > /exported && echo v > /vol/f'"),
			run("export -o {dir}/e.tar {name}"),
			run("export {name}", has("exported")),
			run("import {dir}/e.tar {name}:imported", match(imageID)),
			run("run --rm {name}:imported cat /exported", out("e")),
			run("run --rm {name}:imported ls /vol", out("")), // volumes are not exported
			run("export nosuch-{name}", exits(1), errHas("nosuch-{name}")),
			run("export -o {dir}/none/e.tar {name}", exits(1), errHas("{dir}/none")),
		}},
	}
}
