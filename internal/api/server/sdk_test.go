package server_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/berth-project/berth/internal/api/server/servertest"
)

// The official SDK, as the docker CLI uses it, against the server over a
// fake engine on a unix socket.
func newSDK(t *testing.T) (*client.Client, *servertest.Fake) {
	t.Helper()
	fake := servertest.New()
	sock, _ := serveUnix(t, fake)
	c, err := client.New(client.WithHost("unix://" + sock))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, fake
}

func sdkContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestSDKPingNegotiation(t *testing.T) {
	t.Parallel()
	c, _ := newSDK(t)
	ctx := sdkContext(t)
	ping, err := c.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
	if err != nil {
		t.Fatal(err)
	}
	if ping.APIVersion != "1.50" || ping.OSType != "linux" || ping.Experimental || ping.BuilderVersion != "1" {
		t.Errorf("ping %+v", ping)
	}
	if v := c.ClientVersion(); v != "1.50" {
		t.Errorf("negotiated version %q, want the server's 1.50", v)
	}
	v, err := c.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil || v.APIVersion != "1.50" || v.MinAPIVersion != "1.24" {
		t.Errorf("version %+v: %v", v, err)
	}
}

func TestSDKCreateStartWaitLogs(t *testing.T) {
	t.Parallel()
	c, _ := newSDK(t)
	ctx := sdkContext(t)
	created, err := c.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name:   "sdk-echo",
		Config: &container.Config{Image: "busybox", Cmd: []string{"echo", "hello", "sdk"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	wait := c.ContainerWait(ctx, created.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
	if _, err := c.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case res := <-wait.Result:
		if res.StatusCode != 0 || res.Error != nil {
			t.Errorf("wait %+v", res)
		}
	case err := <-wait.Error:
		t.Fatal(err)
	}

	logs, err := c.ContainerLogs(ctx, "sdk-echo", client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: "all"})
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	var stdout, stderr bytes.Buffer
	if _, err := stdcopy.StdCopy(&stdout, &stderr, logs); err != nil {
		t.Fatal(err)
	}
	if stdout.String() != "hello sdk\n" || stderr.Len() != 0 {
		t.Errorf("logs stdout %q stderr %q", stdout.String(), stderr.String())
	}

	insp, err := c.ContainerInspect(ctx, "sdk-echo", client.ContainerInspectOptions{})
	if err != nil || insp.Container.State.Status != container.StateExited {
		t.Errorf("inspect %+v: %v", insp.Container.State, err)
	}
	if _, err := c.ContainerRemove(ctx, "sdk-echo", client.ContainerRemoveOptions{}); err != nil {
		t.Fatal(err)
	}

	// The SDK sees docker's error classes and words.
	_, err = c.ContainerInspect(ctx, "sdk-echo", client.ContainerInspectOptions{})
	if !cerrdefs.IsNotFound(err) || !strings.Contains(err.Error(), "No such container: sdk-echo") {
		t.Errorf("inspect removed: %v", err)
	}
	_, err = c.ContainerCreate(ctx, client.ContainerCreateOptions{Name: "bad/name", Config: &container.Config{Image: "busybox"}})
	if !cerrdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), "Invalid container name (bad/name)") {
		t.Errorf("bad name: %v", err)
	}
}

func TestSDKAttach(t *testing.T) {
	t.Parallel()
	c, _ := newSDK(t)
	ctx := sdkContext(t)
	for _, tty := range []bool{false, true} {
		created, err := c.ContainerCreate(ctx, client.ContainerCreateOptions{
			Config: &container.Config{Image: "busybox", Cmd: []string{"cat"}, Tty: tty, OpenStdin: true, StdinOnce: true},
		})
		if err != nil {
			t.Fatal(err)
		}
		att, err := c.ContainerAttach(ctx, created.ID, client.ContainerAttachOptions{Stream: true, Stdin: true, Stdout: true, Stderr: true})
		if err != nil {
			t.Fatal(err)
		}
		mt, _ := att.MediaType()
		want := "application/vnd.docker.multiplexed-stream"
		if tty {
			want = "application/vnd.docker.raw-stream"
		}
		if mt != want {
			t.Errorf("tty=%v: media type %q", tty, mt)
		}
		if _, err := c.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(att.Conn, "through the sdk\n"); err != nil {
			t.Fatal(err)
		}
		if err := att.CloseWrite(); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if tty {
			_, err = io.Copy(&out, att.Reader)
		} else {
			_, err = stdcopy.StdCopy(&out, io.Discard, att.Reader)
		}
		att.Close()
		if err != nil || out.String() != "through the sdk\n" {
			t.Errorf("tty=%v: attach output %q: %v", tty, out.String(), err)
		}
	}
}

func TestSDKExecAndPullAndEvents(t *testing.T) {
	t.Parallel()
	c, _ := newSDK(t)
	ctx := sdkContext(t)
	since := time.Now().Add(-time.Second)
	created, err := c.ContainerCreate(ctx, client.ContainerCreateOptions{Config: &container.Config{Image: "busybox", Cmd: []string{"sleep"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	ex, err := c.ExecCreate(ctx, created.ID, client.ExecCreateOptions{Cmd: []string{"echo", "from", "exec"}, AttachStdout: true, AttachStderr: true})
	if err != nil {
		t.Fatal(err)
	}
	att, err := c.ExecAttach(ctx, ex.ID, client.ExecAttachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, io.Discard, att.Reader); err != nil || out.String() != "from exec\n" {
		t.Errorf("exec output %q: %v", out.String(), err)
	}
	att.Close()

	pull, err := c.ImagePull(ctx, "alpine:3.20", client.ImagePullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := pull.Wait(ctx); err != nil {
		t.Errorf("pull: %v", err)
	}
	pull, err = c.ImagePull(ctx, "fail/midway", client.ImagePullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := pull.Wait(ctx); err == nil || !strings.Contains(err.Error(), "fake registry went away") {
		t.Errorf("failing pull: %v", err)
	}

	ev := c.Events(ctx, client.EventsListOptions{Since: since.Format(time.RFC3339Nano), Until: time.Now().Add(time.Second).Format(time.RFC3339Nano)})
	var actions []string
	for done := false; !done; {
		select {
		case m := <-ev.Messages:
			actions = append(actions, string(m.Type)+":"+string(m.Action))
		case err := <-ev.Err:
			if err != io.EOF {
				t.Fatal(err)
			}
			done = true
		}
	}
	if got := strings.Join(actions, ","); got != "container:create,container:start,image:pull" {
		t.Errorf("events %s", got)
	}
}
