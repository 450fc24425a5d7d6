package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	units "github.com/docker/go-units"
	sdk "github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/cli/cptar"
)

type cpOptions struct {
	followLink bool
	copyUIDGID bool
	quiet      bool
}

func newCpCommand(a *app) *cobra.Command {
	var o cpOptions
	cmd := &cobra.Command{
		Use: `cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-
	berth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH`,
		Short: "Copy files/folders between a container and the local filesystem",
		Long: `Copy files/folders between a container and the local filesystem

Use '-' as the source to read a tar archive from stdin
and extract it to a directory destination in a container.
Use '-' as the destination to stream a tar archive of a
container source to stdout.`,
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] == "" {
				return errors.New("source can not be empty")
			}
			if args[1] == "" {
				return errors.New("destination can not be empty")
			}
			if !cmd.Flags().Changed("quiet") {
				// Progress only where someone watches it.
				o.quiet = !isTerminal(a.streams.Out)
			}
			return runCp(cmd.Context(), a, o, args[0], args[1])
		},
		Annotations:           map[string]string{"aliases": "berth container cp, berth cp"},
		DisableFlagsInUseLine: true,
	}
	f := cmd.Flags()
	f.BoolVarP(&o.copyUIDGID, "archive", "a", false, "Archive mode (copy all uid/gid information)")
	f.BoolVarP(&o.followLink, "follow-link", "L", false, "Always follow symbol link in SRC_PATH")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached")
	return cmd
}

// splitCpArg splits CONTAINER:PATH. A local path holding ":" is told apart
// as docker does: absolute, or starting with ".".
func splitCpArg(arg string) (container, p string) {
	if filepath.IsAbs(arg) {
		return "", arg
	}
	ctr, p, ok := strings.Cut(arg, ":")
	if !ok || strings.HasPrefix(ctr, ".") {
		return "", arg
	}
	return ctr, p
}

func runCp(ctx context.Context, a *app, o cpOptions, src, dst string) error {
	srcCtr, srcPath := splitCpArg(src)
	dstCtr, dstPath := splitCpArg(dst)
	switch {
	case srcCtr != "" && dstCtr != "":
		return errors.New("copying between containers is not supported")
	case srcCtr != "":
		return copyFromContainer(ctx, a, o, srcCtr, srcPath, dstPath)
	case dstCtr != "":
		return copyToContainer(ctx, a, o, dstCtr, srcPath, dstPath)
	}
	return errors.New("must specify at least one container source")
}

// localPath makes p absolute, keeping the trailing "/" or "/." that
// changes what a copy means.
func localPath(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	return cptar.KeepTrailing(abs, p), nil
}

func copyFromContainer(ctx context.Context, a *app, o cpOptions, ctr, srcPath, dstPath string) error {
	if dstPath != "-" {
		p, err := localPath(dstPath)
		if err != nil {
			return err
		}
		dstPath = p
	}
	if err := validateOutputPath(dstPath); err != nil {
		return err
	}
	c, err := a.client()
	if err != nil {
		return err
	}
	var rebaseName string
	if o.followLink {
		st, err := c.ContainerStatPath(ctx, ctr, sdk.ContainerStatPathOptions{Path: srcPath})
		if err == nil && st.Stat.Mode&fs.ModeSymlink != 0 {
			target := st.Stat.LinkTarget
			if !path.IsAbs(target) {
				parent, _ := cptar.SplitDirEntry(srcPath)
				target = path.Join(parent, target)
			}
			srcPath, rebaseName = cptar.Rebase(srcPath, target)
		}
	}
	res, err := c.CopyFromContainer(ctx, ctr, sdk.CopyFromContainerOptions{SourcePath: srcPath})
	if err != nil {
		return err
	}
	defer res.Content.Close()
	if dstPath == "-" {
		_, err := io.Copy(a.streams.Out, res.Content)
		return err
	}
	src := cptar.Info{Path: srcPath, Exists: true, IsDir: res.Stat.Mode.IsDir(), RebaseName: rebaseName}
	var copied atomic.Int64
	content := io.Reader(res.Content)
	if !o.quiet {
		content = countingReader{content, &copied}
	}
	extract := func() error {
		di, err := cptar.DestinationInfo(dstPath)
		if err != nil {
			return err
		}
		dir, as, err := cptar.Prepare(src, di)
		if err != nil {
			return err
		}
		_, from := cptar.SplitDirEntry(srcPath)
		return cptar.Extract(content, dir, from, as)
	}
	if o.quiet {
		return extract()
	}
	stop := a.copyProgress(ctx, "Copying from container - ", &copied)
	err = extract()
	stop()
	fmt.Fprintf(a.streams.Err, "Successfully copied %s to %s\n", copiedSize(copied.Load()), dstPath)
	return err
}

func copyToContainer(ctx context.Context, a *app, o cpOptions, ctr, srcPath, dstPath string) error {
	if srcPath != "-" {
		p, err := localPath(srcPath)
		if err != nil {
			return err
		}
		srcPath = p
	}
	c, err := a.client()
	if err != nil {
		return err
	}
	// What the destination is decides how the archive is made. A failed
	// stat is no error: the path may be created by the copy, and if the
	// parent is missing the extraction says so.
	dst := cptar.Info{Path: dstPath}
	if st, err := c.ContainerStatPath(ctx, ctr, sdk.ContainerStatPathOptions{Path: dstPath}); err == nil {
		if st.Stat.Mode&fs.ModeSymlink != 0 {
			target := st.Stat.LinkTarget
			if !path.IsAbs(target) {
				parent, _ := cptar.SplitDirEntry(dstPath)
				target = path.Join(parent, target)
			}
			dst.Path = target
			st, err = c.ContainerStatPath(ctx, ctr, sdk.ContainerStatPathOptions{Path: target})
		}
		if err == nil {
			if err := checkOutputMode(st.Stat.Mode); err != nil {
				return fmt.Errorf(`destination "%s:%s" must be a directory or a regular file: %w`, ctr, dstPath, err)
			}
			dst.Exists, dst.IsDir = true, st.Stat.Mode.IsDir()
		}
	}

	var content io.Reader
	var resolved string
	var copied atomic.Int64
	if srcPath == "-" {
		if !dst.IsDir {
			return fmt.Errorf(`destination "%s:%s" must be a directory`, ctr, dstPath)
		}
		content, resolved = a.streams.In, dst.Path
	} else {
		src, err := cptar.SourceInfo(srcPath, o.followLink)
		if err != nil {
			return err
		}
		dir, as, err := cptar.Prepare(src, dst)
		if err != nil {
			return err
		}
		rc := cptar.Tar(src, as)
		defer rc.Close()
		content, resolved = rc, dir
		if !o.quiet {
			content = countingReader{content, &copied}
		}
	}
	opts := sdk.CopyToContainerOptions{DestinationPath: resolved, Content: content, CopyUIDGID: o.copyUIDGID}
	if o.quiet {
		_, err := c.CopyToContainer(ctx, ctr, opts)
		return err
	}
	stop := a.copyProgress(ctx, "Copying to container - ", &copied)
	_, err = c.CopyToContainer(ctx, ctr, opts)
	stop()
	fmt.Fprintf(a.streams.Err, "Successfully copied %s to %s:%s\n", copiedSize(copied.Load()), ctr, dst.Path)
	return err
}

// validateOutputPath is the docker CLI's check of a local destination: its
// directory exists, and it is a directory or a regular file if it exists.
func validateOutputPath(p string) error {
	dir := filepath.Dir(filepath.Clean(p))
	if dir != "" && dir != "." {
		if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("invalid output path: directory %q does not exist", dir)
		}
	}
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode().IsRegular() {
		return nil
	}
	if err := checkOutputMode(fi.Mode()); err != nil {
		return fmt.Errorf("invalid output path: %q must be a directory or a regular file: %w", p, err)
	}
	return nil
}

func checkOutputMode(m fs.FileMode) error {
	switch {
	case m&fs.ModeDevice != 0:
		return errors.New("got a device")
	case m&fs.ModeIrregular != 0:
		return errors.New("got an irregular file")
	}
	return nil
}

// countingReader counts the bytes of a copy for its progress line.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func copiedSize(n int64) string { return units.HumanSizeWithPrecision(float64(n), 3) }

// copyProgress shows the bytes copied so far on stderr when it is a
// terminal, on one line rewritten in place as docker does, until the
// returned stop is called (which erases the line).
func (a *app) copyProgress(ctx context.Context, header string, n *atomic.Int64) (stop func()) {
	w := a.streams.Err
	if !isTerminal(w) {
		// The line is redrawn in place: only a terminal shows that.
		return func() {}
	}
	const (
		save, restore = "\x1b7", "\x1b8"
		hide, show    = "\x1b[?25l", "\x1b[?25h"
		eraseLine     = "\x1b[2K"
		eraseTail     = "\x1b[0K"
	)
	fmt.Fprint(w, save+"Preparing to copy...")
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		fmt.Fprint(w, hide+restore+eraseLine+header+copiedSize(0))
		defer fmt.Fprint(w, show)
		tick := time.NewTicker(75 * time.Millisecond)
		defer tick.Stop()
		var last int64
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				cur := n.Load()
				if cur == last {
					continue
				}
				last = cur
				fmt.Fprintf(w, "\x1b[%dG%s%s", len(header)+1, eraseTail, copiedSize(cur))
			}
		}
	}()
	return func() {
		cancel()
		<-done
		fmt.Fprint(w, restore+eraseLine)
	}
}
