package cli_test

import (
	"testing"

	"github.com/berth-project/berth/internal/testenv/daemontest"
)

// isolatedScenarios need a daemon of their own: they count everything
// the daemon holds, or stop the daemon itself.
var isolatedScenarios = []scenario{
	{name: "counts", steps: []step{
		// A fresh daemon holds busybox and nothing else.
		run("info --format '{{.Containers}} {{.Images}}'", out("0 1")),
		run("ps -a -q", out("")),
		run("images --format '{{.Repository}}:{{.Tag}}'", out("busybox:latest")),
		run("run -d --name {name} {image} sleep 300"),
		run("create --name {name2} {image} true"),
		run("info --format '{{.Containers}} {{.ContainersRunning}} {{.ContainersPaused}} {{.ContainersStopped}}'", out("2 1 0 1")),
		run("ps --format '{{.Names}}'", out("{name}")),
		run("ps -a -q", lines(2)),
		run("rm -f {name} {name2}"),
		run("info --format '{{.Containers}}'", out("0")),
		run("events --since {since} --until {now} --filter type=container --filter container={name} --format '{{.Action}}'",
			match(`\Acreate\nstart\n(.*\n)*destroy\n\z`)),
	}},
	{name: "daemon-killed", cleanup: []string{"rm -f {name}"}, steps: []step{
		// A container that keeps logging: its log must grow while the
		// daemon is down, and the restarted daemon must know it.
		run("run -d --name {name} {image} sh -c 'i=0; while true; do echo tick-$i; i=$((i+1)); sleep 0.1; done'"),
		run("inspect -f '{{.State.Pid}}' {name}", saveAs("pid")),
		run("logs {name}", has("tick-2\n"), eventually()),
		action(func(t *testing.T, e *engine) {
			e.d.Kill(t)
			e.d.Restart(t)
		}),
		run("inspect -f '{{.State.Running}} {{.State.Pid}}' {name}", out("true {pid}")),
		run("ps --filter name={name} --format '{{.Names}}'", out("{name}")),
		run("exec {name} echo alive", out("alive")),
		run("logs {name}", has("tick-30\n"), eventually()),
		run("stop -t 1 {name}", out("{name}")),
		run("wait {name}", out("137")),
	}},
}

// TestIsolated runs each isolated scenario on a daemon of its own, with
// the docker CLI and with berth. dockerd gets --live-restore, which berthd
// has by default.
func TestIsolated(t *testing.T) {
	for _, c := range clients() {
		if c.legacy {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c := c.resolve(t)
			for _, sc := range isolatedScenarios {
				t.Run(sc.name, func(t *testing.T) {
					t.Parallel()
					var opts []daemontest.Option
					if daemontest.CurrentTarget() == daemontest.Docker {
						opts = append(opts, daemontest.WithArgs("--live-restore"))
					}
					e := startEngine(t, opts...)
					sc.run(t, e, c)
				})
			}
		})
	}
}
