package servertest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/registry"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/errdefs"
)

type fakeImage struct {
	id      string
	refs    []string
	size    int64
	created time.Time
}

// addImage stores an image under ref. f.mu must be held (or f unshared).
func (f *Fake) addImage(ref string, size int64) *fakeImage {
	ref = normalize(ref)
	if img, ok := f.images[ref]; ok {
		return img
	}
	img := &fakeImage{id: "sha256:" + newID(), refs: []string{ref}, size: size, created: time.Now().UTC()}
	f.images[ref] = img
	return img
}

// normalize adds the tag "latest" to a reference without tag or digest.
func normalize(ref string) string {
	last := ref[strings.LastIndex(ref, "/")+1:]
	if !strings.ContainsAny(last, ":@") {
		return ref + ":latest"
	}
	return ref
}

// findImage resolves a reference or an ID (prefix). f.mu must be held.
func (f *Fake) findImage(ref string) (*fakeImage, error) {
	if img, ok := f.images[normalize(ref)]; ok {
		return img, nil
	}
	for _, img := range f.images {
		if img.id == ref || (len(ref) >= 4 && strings.HasPrefix(strings.TrimPrefix(img.id, "sha256:"), strings.TrimPrefix(ref, "sha256:"))) {
			return img, nil
		}
	}
	return nil, errdefs.Errorf(errdefs.ErrNotFound, "No such image: %s", ref)
}

func writeMessage(out io.Writer, m map[string]any) {
	b, _ := json.Marshal(m)
	_, _ = out.Write(append(b, '\n'))
}

// ImagePull "pulls" ref: any name works but one whose repository is
// "fail/midway" (any registry), which writes progress then fails in the
// stream.
func (f *Fake) ImagePull(ctx context.Context, ref string, opts server.ImagePullOptions, out io.Writer) error {
	if err := f.enter("ImagePull", ref, opts); err != nil {
		return err
	}
	full := ref
	if opts.Tag != "" {
		sep := ":"
		if strings.Contains(opts.Tag, ":") {
			sep = "@"
		}
		full = ref + sep + opts.Tag
	}
	writeMessage(out, map[string]any{"status": "Pulling from " + ref, "id": "latest"})
	if strings.Contains(ref, "fail/midway") {
		err := errdefs.Errorf(errdefs.ErrUnavailable, "fake registry went away")
		writeMessage(out, map[string]any{"errorDetail": map[string]any{"message": err.Error()}, "error": err.Error()})
		return err
	}
	f.mu.Lock()
	img := f.addImage(full, 1<<20)
	f.publish(events.ImageEventType, events.ActionPull, normalize(full), map[string]string{"name": normalize(full)})
	f.mu.Unlock()
	writeMessage(out, map[string]any{"status": "Digest: " + img.id})
	writeMessage(out, map[string]any{"status": "Status: Downloaded newer image for " + normalize(full)})
	return nil
}

// ImageImport reads the whole source and stores an image.
func (f *Fake) ImageImport(ctx context.Context, src io.Reader, opts server.ImageImportOptions, out io.Writer) error {
	if err := f.enter("ImageImport", opts.Repo, opts); err != nil {
		return err
	}
	n, err := io.Copy(io.Discard, src)
	if err != nil {
		return err
	}
	f.mu.Lock()
	ref := "imported-" + newID()[:8]
	if opts.Repo != "" {
		ref = opts.Repo + ":" + opts.Tag
	}
	img := f.addImage(ref, n)
	f.mu.Unlock()
	writeMessage(out, map[string]any{"status": img.id})
	return nil
}

// ImagePush "pushes" a stored image.
func (f *Fake) ImagePush(ctx context.Context, ref string, opts server.ImagePushOptions, out io.Writer) error {
	if err := f.enter("ImagePush", ref, opts); err != nil {
		return err
	}
	full := ref
	if opts.Tag != "" {
		full = ref + ":" + opts.Tag
	}
	f.mu.Lock()
	_, err := f.findImage(full)
	f.mu.Unlock()
	if err != nil {
		return errdefs.Errorf(errdefs.ErrNotFound, "An image does not exist locally with the tag: %s", ref)
	}
	writeMessage(out, map[string]any{"status": "The push refers to repository [" + ref + "]"})
	writeMessage(out, map[string]any{"status": "latest: digest: sha256:" + strings.Repeat("1", 64) + " size: 527"})
	return nil
}

// ImageTag adds repo:tag to the image source names.
func (f *Fake) ImageTag(ctx context.Context, source, repo, tag string) error {
	if err := f.enter("ImageTag", source, repo+":"+tag); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	img, err := f.findImage(source)
	if err != nil {
		return err
	}
	ref := repo + ":" + tag
	if old, ok := f.images[ref]; ok {
		old.refs = slices.DeleteFunc(old.refs, func(r string) bool { return r == ref })
	}
	f.images[ref] = img
	img.refs = append(img.refs, ref)
	return nil
}

// ImageDelete untags ref, and deletes the image with its last name.
func (f *Fake) ImageDelete(ctx context.Context, ref string, force, noPrune bool) ([]image.DeleteResponse, error) {
	if err := f.enter("ImageDelete", ref, [2]bool{force, noPrune}); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	img, err := f.findImage(ref)
	if err != nil {
		return nil, err
	}
	var resp []image.DeleteResponse
	for r, i := range f.images {
		if i == img && (r == normalize(ref) || ref == img.id || force) {
			delete(f.images, r)
			img.refs = slices.DeleteFunc(img.refs, func(x string) bool { return x == r })
			resp = append(resp, image.DeleteResponse{Untagged: r})
		}
	}
	if len(img.refs) == 0 {
		resp = append(resp, image.DeleteResponse{Deleted: img.id})
	}
	return resp, nil
}

func (f *Fake) uniqueImages() []*fakeImage {
	var list []*fakeImage
	for _, img := range f.images {
		if !slices.Contains(list, img) {
			list = append(list, img)
		}
	}
	slices.SortFunc(list, func(a, b *fakeImage) int { return strings.Compare(a.id, b.id) })
	return list
}

func (img *fakeImage) summary() image.Summary {
	return image.Summary{ID: img.id, RepoTags: slices.Sorted(slices.Values(img.refs)), Size: img.size,
		Created: img.created.Unix(), Containers: -1, Labels: map[string]string{}}
}

// ImageList lists the stored images; the filter "reference" matches a
// name's prefix.
func (f *Fake) ImageList(ctx context.Context, opts server.ImageListOptions) ([]image.Summary, error) {
	if err := f.enter("ImageList", "", opts); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	list := []image.Summary{}
	for _, img := range f.uniqueImages() {
		if refs := opts.Filters["reference"]; len(refs) > 0 && !slices.ContainsFunc(img.refs, func(r string) bool {
			return slices.ContainsFunc(refs, func(p string) bool { return strings.HasPrefix(r, p) })
		}) {
			continue
		}
		list = append(list, img.summary())
	}
	return list, nil
}

// ImageInspect describes an image.
func (f *Fake) ImageInspect(ctx context.Context, ref string) (image.InspectResponse, error) {
	if err := f.enter("ImageInspect", ref, nil); err != nil {
		return image.InspectResponse{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	img, err := f.findImage(ref)
	if err != nil {
		return image.InspectResponse{}, err
	}
	return image.InspectResponse{ID: img.id, RepoTags: slices.Sorted(slices.Values(img.refs)), Size: img.size,
		Created: img.created.Format(time.RFC3339Nano), Architecture: "amd64", Os: "linux"}, nil
}

// ImageHistory gives one layer.
func (f *Fake) ImageHistory(ctx context.Context, ref string) ([]image.HistoryResponseItem, error) {
	if err := f.enter("ImageHistory", ref, nil); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	img, err := f.findImage(ref)
	if err != nil {
		return nil, err
	}
	return []image.HistoryResponseItem{{ID: img.id, Created: img.created.Unix(), CreatedBy: "fake", Size: img.size, Tags: img.refs}}, nil
}

// ImageSave writes a made-up archive naming the images.
func (f *Fake) ImageSave(ctx context.Context, refs []string, out io.Writer) error {
	if err := f.enter("ImageSave", strings.Join(refs, ","), refs); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range refs {
		if _, err := f.findImage(r); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(out, "fake-archive:%s\n", strings.Join(refs, ","))
	return err
}

// ImageLoad reads the whole archive and stores an image for it.
func (f *Fake) ImageLoad(ctx context.Context, src io.Reader, quiet bool, out io.Writer) error {
	if err := f.enter("ImageLoad", "", quiet); err != nil {
		return err
	}
	n, err := io.Copy(io.Discard, src)
	if err != nil {
		return err
	}
	if n == 0 {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "archive is empty")
	}
	f.mu.Lock()
	f.addImage(fmt.Sprintf("loaded:%d", n), n)
	f.mu.Unlock()
	writeMessage(out, map[string]any{"stream": fmt.Sprintf("Loaded image: loaded:%d\n", n)})
	return nil
}

// ImagesPrune removes nothing (fake images are never dangling).
func (f *Fake) ImagesPrune(ctx context.Context, filters server.Filters) (image.PruneReport, error) {
	if err := f.enter("ImagesPrune", "", filters); err != nil {
		return image.PruneReport{}, err
	}
	return image.PruneReport{}, nil
}

// ImageSearch finds stored repositories containing term.
func (f *Fake) ImageSearch(ctx context.Context, term string, limit int, filters server.Filters, auth *registry.AuthConfig) ([]registry.SearchResult, error) {
	if err := f.enter("ImageSearch", term, auth); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	results := []registry.SearchResult{}
	for ref := range f.images {
		repo, _, _ := strings.Cut(ref, ":")
		if strings.Contains(repo, term) && !slices.ContainsFunc(results, func(r registry.SearchResult) bool { return r.Name == repo }) {
			results = append(results, registry.SearchResult{Name: repo, Description: "fake"})
		}
	}
	if limit > 0 && len(results) > limit {
		results = results[:limit]
	}
	return results, nil
}
