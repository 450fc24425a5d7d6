package daemon

import (
	"context"
	"slices"
	"testing"

	"github.com/berth-project/berth/internal/api/server"
)

// TestFSChanges is docker diff: exactly the container's changes (an
// added file and tree, a changed file, a deleted file and directory, an
// opaque directory that replaced the image's), while it runs and once it
// stopped, and none of the mount points the runtime made (the image has
// no /proc, /sys, /dev nor network files).
func TestFSChanges(t *testing.T) {
	t.Parallel()
	d := newRealDaemon(t, testRoots(t))
	ctx := context.Background()

	// Created and never started: nothing changed.
	fresh := create(t, d, "", []string{"true"}, noNet)
	if got := changesOf(t, d, fresh); len(got) != 0 {
		t.Errorf("diff of a created container: %v", got)
	}
	// Run, with the runtime's mount points only: still nothing.
	if out := runOutputOf(t, d, fresh); out != "" {
		t.Fatal(out)
	}
	if got := changesOf(t, d, fresh); len(got) != 0 {
		t.Errorf("diff of a container that changed nothing: %v", got)
	}

	script := "echo new > /added.txt && mkdir -p /newdir/sub && echo x > /newdir/sub/f && " +
		"echo more >> /etc/passwd && rm /etc/group && rm -rf /home/berth && " +
		"rm -rf /opt/old && mkdir /opt/old && echo fresh > /opt/old/fresh && " +
		"touch /ready && exec sleep 1000"
	id := create(t, d, "", []string{"sh", "-c", script}, noNet)
	if err := d.ContainerStart(ctx, id); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the changes", func() bool {
		_, err := d.ContainerStatPath(ctx, id, "/ready")
		return err == nil
	})
	want := []string{
		"A /added.txt",
		"C /etc", "D /etc/group", "C /etc/passwd",
		"C /home", "D /home/berth",
		"A /newdir", "A /newdir/sub", "A /newdir/sub/f",
		"C /opt", "C /opt/old", "A /opt/old/fresh", "D /opt/old/new",
		"A /ready",
	}
	if got := changesOf(t, d, id); !slices.Equal(got, want) {
		t.Errorf("diff of the running container:\n got %q\nwant %q", got, want)
	}
	timeout := 1
	if err := d.ContainerStop(ctx, id, server.StopOptions{Timeout: &timeout}); err != nil {
		t.Fatal(err)
	}
	if got := changesOf(t, d, id); !slices.Equal(got, want) {
		t.Errorf("diff of the stopped container:\n got %q\nwant %q", got, want)
	}
	if _, err := d.ContainerChanges(ctx, "no-such-container"); err == nil {
		t.Error("diff of a missing container")
	}
}

// changesOf is docker diff's output lines.
func changesOf(t *testing.T, d *Daemon, id string) []string {
	t.Helper()
	changes, err := d.ContainerChanges(context.Background(), id)
	if err != nil {
		t.Fatalf("diff: %v", err)
	}
	var out []string
	for _, c := range changes {
		out = append(out, c.Kind.String()+" "+c.Path)
	}
	return out
}
