package daemon

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/distribution/reference"
	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/archive"
	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/daemon/images"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/image"
)

// ContainerCommit is POST /commit (docker commit): a new image of the
// container's image plus its layer, as dockerd's CreateImageFromContainer
// makes it.
//
//   - The container is paused while its layer is read (opts.Pause, docker's
//     default), and only then: the image is written and unpacked after.
//   - The layer is the overlay upper as a layer tar (whiteouts as ".wh."
//     entries, opaque directories with ".wh..wh..opq"), without the mount
//     points the runtime made (runtimeStubs).
//   - The config is the body's Config, or the container's, with the
//     --change instructions applied (image.ApplyChanges), then filled from
//     the container's config by docker's merge rules (commitMerge).
//   - The history entry's created_by is the container's Cmd joined by
//     spaces, as dockerd writes it; author and comment as given.
//   - Tagged repo:tag when a repo is given (latest by default); events
//     "commit" (with comment, imageID and imageRef) and, for a tag, the
//     image's "tag".
func (d *Daemon) ContainerCommit(ctx context.Context, name string, opts server.CommitOptions) (string, error) {
	c, _, err := d.get(name)
	if err != nil {
		return "", err
	}
	ref, err := commitReference(opts.Repo, opts.Tag)
	if err != nil {
		return "", err
	}
	c.Lock()
	status := c.State.Status
	running := c.State.HasProcess()
	paused := status == container.Paused
	key := c.SnapshotKey
	var parent ocispec.Descriptor
	if c.ImageManifest != nil {
		parent = *c.ImageManifest
	}
	imageID := c.Image
	ctrCfg := &containertypes.Config{}
	err = deepCopy(ctrCfg, c.Config)
	c.Unlock()
	if err != nil {
		return "", err
	}
	switch status {
	case container.Dead:
		return "", errdefs.Errorf(errdefs.ErrConflict, "You cannot commit container %s which is Dead", c.ID)
	case container.Removing:
		return "", errdefs.Errorf(errdefs.ErrConflict, "You cannot commit container %s which is being removed", c.ID)
	}
	imgCfg, err := commitConfig(ctrCfg, opts.Config, opts.Changes)
	if err != nil {
		return "", err
	}
	if parent.Digest == "" && imageID != "" {
		// A record without the manifest it was made from: its image by
		// ID, if the store still has it.
		img, err := d.images.Get(ctx, imageID.String())
		if err != nil {
			return "", fmt.Errorf("the container's image %s: %w", imageID, err)
		}
		parent = img.Target
	}
	l, err := d.layersOf(ctx, key)
	if err != nil {
		return "", err
	}

	unpause := func() {}
	if opts.Pause && running && !paused {
		switch err := d.ContainerPause(ctx, c.ID); {
		case err == nil:
			var once bool
			unpause = func() {
				if once {
					return
				}
				once = true
				// Whatever became of the request, the container must
				// not stay frozen.
				uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
				defer cancel()
				if err := d.ContainerUnpause(uctx, c.ID); err != nil && !errdefs.IsConflict(err) {
					d.log.Warn("commit: unpause", "container", c.ID, "err", err)
				}
			}
			defer unpause()
		case errdefs.IsConflict(err):
			// It stopped (or was paused) meanwhile: nothing to freeze.
		default:
			return "", err
		}
	}

	id, err := d.imageService.Commit(ctx, images.CommitOptions{
		Parent:    parent,
		Config:    imgCfg,
		Author:    opts.Author,
		Comment:   opts.Comment,
		CreatedBy: strings.Join(ctrCfg.Cmd, " "),
		Name:      ref,
		WriteLayer: func(ctx context.Context, w io.Writer) error {
			err := d.writeLayer(ctx, l, w)
			unpause()
			return err
		},
	})
	if err != nil {
		return "", err
	}
	imageRef := ""
	if ref != "" {
		imageRef = image.FamiliarName(ref)
	}
	c.Lock()
	d.emit(c, events.ActionCommit, map[string]string{"comment": opts.Comment, "imageID": id.String(), "imageRef": imageRef})
	c.Unlock()
	return id.String(), nil
}

// commitReference is ?repo=&tag= as a reference to tag, "" for none:
// dockerd's RepoTagReference (a repo with a tag of its own keeps it,
// ?tag= replaces it; a digest is refused).
func commitReference(repo, tag string) (string, error) {
	if repo == "" {
		if tag != "" {
			return "", errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid reference: tag %q without a repository", tag)
		}
		return "", nil
	}
	named, err := reference.ParseNormalizedNamed(repo)
	if err != nil {
		return "", errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid reference format: %v", err)
	}
	if _, ok := named.(reference.Digested); ok {
		return "", errdefs.Errorf(errdefs.ErrInvalidParameter, "cannot create an image with a digest reference: %s", repo)
	}
	if tag != "" {
		if named, err = reference.WithTag(reference.TrimNamed(named), tag); err != nil {
			return "", errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid tag %q: %v", tag, err)
		}
	}
	return reference.TagNameOnly(named).String(), nil
}

// writeLayer writes the container's layer as a layer tar: WriteDiff of
// the upper, the runtime's mount points filtered out.
func (d *Daemon) writeLayer(ctx context.Context, l *containerLayers, w io.Writer) error {
	return d.withLower(ctx, l, func(lowerPath string, lowerfd int) error {
		var stubs map[string]bool
		err := withDir(l.upper, func(_ string, upperfd int) error {
			var err error
			stubs, err = runtimeStubs(upperfd, lowerfd)
			return err
		})
		if err != nil {
			return err
		}
		// An overlay upper holds the whole change: no lower needed. A
		// copying snapshotter's tree is compared with its parent's.
		lower := ""
		if !l.overlay {
			lower = lowerPath
		}
		if len(stubs) == 0 {
			return archive.WriteDiff(ctx, w, lower, l.upper, l.diffOpts()...)
		}
		pr, pw := io.Pipe()
		done := make(chan error, 1)
		go func() {
			err := archive.WriteDiff(ctx, pw, lower, l.upper, l.diffOpts()...)
			pw.CloseWithError(err)
			done <- err
		}()
		ferr := filterTar(w, pr, func(name string) bool {
			return !stubs["/"+strings.TrimSuffix(name, "/")]
		})
		pr.CloseWithError(errors.New("layer filter stopped"))
		if werr := <-done; werr != nil && ferr == nil {
			return werr
		}
		return ferr
	})
}

// filterTar copies the tar stream r to w, leaving out the entries keep
// refuses.
func filterTar(w io.Writer, r io.Reader, keep func(name string) bool) error {
	tr := tar.NewReader(r)
	tw := tar.NewWriter(w)
	buf := make([]byte, 256<<10)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return tw.Close()
		}
		if err != nil {
			return err
		}
		if !keep(hdr.Name) {
			continue
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := io.CopyBuffer(tw, tr, buf); err != nil {
			return err
		}
	}
}
