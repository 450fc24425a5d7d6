package cli_test

import (
	"fmt"
	"strings"
)

// errorScenarios: failing commands say what dockerd says, with its exit
// codes: a create that can never start is refused at create; a failed
// start is reported once; 404 is kept for what is missing (the docker CLI
// pulls on a 404 from create); docker's own words and capitals.
var errorScenarios = []scenario{
	{name: "err-create-settings", steps: []step{
		run("create --name {name} --memory 1k {image} true", exits(1), errExact("Minimum memory limit allowed is 6MB")),
		run("create --name {name} -w relative {image} true", exits(1), errExact("the working directory 'relative' is invalid")),
		run("create --name {name} --cpuset-cpus 999 {image} true", exits(1), errExact("Requested CPUs are not available - requested 999")),
		run("create --name {name} --oom-score-adj 5000 {image} true", exits(1), errExact("range for oom score adj is [-1000, 1000]")),
		run("create --name {name} --cap-add BOGUS {image} true", exits(1), errExact(`invalid CapAdd: unknown capability: "CAP_BOGUS"`)),
		run("create --name {name} --pid container:{name}-none {image} true", exits(1), errExact("No such container: {name}-none")),
		run("ps -a -q --filter name={name}", out("")),
		run("run --rm --memory 1k {image} true", exits(125), errExact("Minimum memory limit allowed is 6MB"), errLacks("Error waiting")),
		run("run --rm --link {name}-none:a {image} true", exits(125), errExact("could not get container for {name}-none: No such container: {name}-none")),
	}},
	{name: "err-create-missing-network", steps: []step{
		// Not "Unable to find image" and a pull: the image is there.
		run("run --rm --network {name}-nonet {image} true", exits(125), errExact("network {name}-nonet not found"), errLacks("Unable to find image")),
	}},
	{name: "err-start-failed-once", cleanup: []string{"rm -f {name}"}, steps: []step{
		run("run --rm --user nosuchuser {image} true", exits(125),
			errExact("unable to find user nosuchuser: no matching entries in passwd file"), errLacks("Error waiting")),
		run("run --name {name} --user nosuchuser {image} true", exits(125),
			errExact("unable to find user nosuchuser"), errLacks("Error waiting")),
	}},
	{name: "err-exec", cleanup: []string{"rm -f {name}"}, steps: []step{
		run("run -d --name {name} {image} sleep 300"),
		// The error comes in the stream, and exec exits 126 as dockerd's.
		run("exec -u nosuchuser {name} true", exits(126), anyHas("unable to find user nosuchuser"), errLacks("unable to upgrade")),
		run("pause {name}"),
		run("exec {name} true", exits(1), errExact("Container {name} is paused, unpause the container before exec")),
		run("unpause {name}"),
		run("top {name} bogus-ps-arg", exits(1), errExact("ps: "), errLacks("exit status")),
		run("update --cpus 9999 {name}", exits(1), errExact("range of CPUs is from 0.01 to")),
	}},
	{name: "err-kill", cleanup: []string{"rm -f {name}"}, steps: []step{
		run("run -d --name {name} {image} sleep 300"),
		run("kill -s 99 {name}", exits(1), errExact("Cannot kill container: {name}: the linux daemon does not support signal 99")),
		run("kill {name}"),
		run("wait {name}", out("137")),
		run("kill {name}", exits(1), errExact("Error response from daemon: Cannot kill container: {name}: Container "), errCount("kill container", 1)),
		run("kill {name}-none", exits(1), errExact("Cannot kill container: {name}-none: No such container: {name}-none")),
	}},
	{name: "err-names", cleanup: []string{"rm -f {name} {name2}"}, steps: []step{
		run("create --name {name} {image} true"),
		run("create --name {name2} {image} true"),
		run("rename {name} {name2}", exits(1), errExact("Error when allocating new name: Conflict. The container name \"/{name2}\" is already in use")),
		run("rename {name} a/b", exits(1), errExact("Error when allocating new name: Invalid container name (/a/b)")),
		run("commit -c 'BOGUS x' {name}", exits(1), errExact("BOGUS is not a valid change command"), errLacks("invalid parameter")),
	}},
	{name: "err-no-image", steps: []step{
		run("rmi {name}-none", exits(1), errExact("No such image: {name}-none:latest")),
		run("history {name}-none:v1", exits(1), errExact("No such image: {name}-none:v1")),
		run("tag {name}-none {name}-x", exits(1), errExact("No such image: {name}-none:latest")),
		run("image inspect {name}-none", exits(1), errExact("No such image: {name}-none:latest")),
	}},
}

// errExact: stderr holds s, capitals and all (errHas ignores case).
func errExact(s string) stepOpt {
	return func(p *plan, v vars) {
		want := v.expand(s)
		p.checks = append(p.checks, check{fmt.Sprintf("stderr holds exactly %q", want), func(r result) bool {
			return strings.Contains(r.stderr, want)
		}})
	}
}

// errCount: stderr holds s exactly n times (a prefix said twice).
func errCount(s string, n int) stepOpt {
	return func(p *plan, v vars) {
		want := v.expand(s)
		p.checks = append(p.checks, check{fmt.Sprintf("stderr holds %q %d times", want, n), func(r result) bool {
			return strings.Count(r.stderr, want) == n
		}})
	}
}
