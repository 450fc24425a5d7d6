package server

import (
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/registry"
	"github.com/opencontainers/go-digest"

	"github.com/berth-project/berth/internal/errdefs"
)

func (s *Server) imageRoutes() []route {
	return []route{
		{method: "GET", pattern: "/images/json", h: s.getImages},
		{method: "POST", pattern: "/images/create", h: s.postImagesCreate, cpu: true},
		{method: "POST", pattern: "/images/load", h: s.postImagesLoad, cpu: true},
		{method: "GET", pattern: "/images/search", h: s.getImagesSearch},
		{method: "POST", pattern: "/images/prune", h: s.postImagesPrune},
		{method: "GET", pattern: "/images/get", h: s.getImagesSave, cpu: true},
		{method: "GET", pattern: "/images/{name...}/json", h: s.getImage},
		{method: "GET", pattern: "/images/{name...}/history", h: s.getImageHistory},
		{method: "GET", pattern: "/images/{name...}/get", h: s.getImagesSave, cpu: true},
		{method: "POST", pattern: "/images/{name...}/push", h: s.postImagePush, cpu: true},
		{method: "POST", pattern: "/images/{name...}/tag", h: s.postImageTag},
		{method: "DELETE", pattern: "/images/{name...}", h: s.deleteImage},
	}
}

func (s *Server) getImages(w http.ResponseWriter, r *request) error {
	filters, err := r.filtersValue()
	if err != nil {
		return err
	}
	// API 1.24 and older had "filter", a glob on repository names.
	if r.olderThan("1.25") && len(filters["reference"]) == 0 {
		if f := r.query.Get("filter"); f != "" {
			filters["reference"] = []string{f}
		}
	}
	opts := ImageListOptions{All: r.boolValue("all"), Digests: r.boolValue("digests"), Filters: filters}
	if !r.olderThan("1.42") {
		opts.SharedSize = r.boolValue("shared-size")
	}
	if !r.olderThan("1.47") {
		opts.Manifests = r.boolValue("manifests")
	}
	list, err := s.backend.ImageList(r.ctx(), opts)
	if err != nil {
		return err
	}
	out := make([]any, len(list))
	for i := range list {
		img := &list[i]
		if r.olderThan("1.43") {
			if len(img.RepoTags) == 0 && len(img.RepoDigests) == 0 {
				img.RepoTags, img.RepoDigests = []string{"<none>:<none>"}, []string{"<none>@<none>"}
			}
		}
		img.RepoTags, img.RepoDigests = nonNil(img.RepoTags), nonNil(img.RepoDigests)
		if r.olderThan("1.48") {
			img.Descriptor = nil
		}
		if r.olderThan("1.51") {
			img.Containers = -1
		}
		out[i] = *img
		if r.olderThan("1.44") {
			out[i] = withFields(*img, map[string]any{"VirtualSize": img.Size})
		}
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) getImage(w http.ResponseWriter, r *request) error {
	img, err := s.backend.ImageInspect(r.ctx(), r.vars["name"])
	if err != nil {
		return err
	}
	img.RepoTags, img.RepoDigests = nonNil(img.RepoTags), nonNil(img.RepoDigests)
	extra := map[string]any{}
	if r.olderThan("1.44") {
		extra["VirtualSize"] = img.Size
		if img.Created == "" {
			img.Created = time.Time{}.Format(time.RFC3339Nano)
		}
	}
	if r.olderThan("1.48") {
		img.Descriptor = nil
	}
	if r.olderThan("1.52") {
		// Always present before 1.52, empty or not.
		extra["Parent"], extra["DockerVersion"] = "", ""
		extra["Comment"], extra["Author"] = img.Comment, img.Author
	}
	return writeJSON(w, http.StatusOK, withFields(img, extra))
}

func (s *Server) getImageHistory(w http.ResponseWriter, r *request) error {
	h, err := s.backend.ImageHistory(r.ctx(), r.vars["name"])
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, nonNil(h))
}

// authHeader decodes X-Registry-Auth: base64url JSON (padded or not). As
// dockerd does for pull, push and search, a header that does not decode is
// ignored (nil) rather than refused.
func authHeader(r *request) *registry.AuthConfig {
	v := r.Header.Get(registry.AuthHeader)
	if v == "" {
		return nil
	}
	auth, err := decodeAuth(v)
	if err != nil {
		return nil
	}
	return auth
}

// decodeAuth reads an X-Registry-Auth value.
func decodeAuth(v string) (*registry.AuthConfig, error) {
	v = strings.TrimSpace(v)
	raw, err := base64URLDecode(v)
	if err != nil {
		return nil, invalidf("invalid X-Registry-Auth header: must be a valid base64url-encoded string")
	}
	var auth registry.AuthConfig
	if err := decodeJSON(strings.NewReader(string(raw)), &auth, int64(len(raw))); err != nil {
		return nil, invalidf("invalid X-Registry-Auth header: %v", err)
	}
	return &auth, nil
}

// parseRepository reads an image name to pull, push, import or tag.
func parseRepository(name string) (reference.Named, error) {
	ref, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return nil, invalidf("invalid reference format: %s: %v", name, err)
	}
	return ref, nil
}

// postImagesCreate pulls (fromImage) or imports (fromSrc) an image,
// streaming docker's JSON progress.
func (s *Server) postImagesCreate(w http.ResponseWriter, r *request) error {
	var platform string
	if !r.olderThan("1.32") {
		platform = r.query.Get("platform")
		if err := validatePlatform(platform); err != nil {
			return err
		}
	}
	if img := r.query.Get("fromImage"); img != "" {
		return s.pull(w, r, img, platform)
	}
	return s.importImage(w, r, platform)
}

func (s *Server) pull(w http.ResponseWriter, r *request, img, platform string) error {
	// "docker pull -a" may send the name with a trailing ":".
	name := strings.TrimSuffix(img, ":")
	ref, err := parseRepository(name)
	if err != nil {
		return err
	}
	tag := r.query.Get("tag")
	if tag != "" {
		// The tag may be a digest.
		if d, derr := digest.Parse(tag); derr == nil {
			_, err = reference.WithDigest(reference.TrimNamed(ref), d)
		} else {
			_, err = reference.WithTag(ref, tag)
		}
		if err != nil {
			return invalidf("invalid tag %q: %v", tag, err)
		}
	}
	if reference.FamiliarName(ref) == "scratch" {
		return errdefs.Errorf(errdefs.ErrForbidden, "'scratch' is a reserved name")
	}
	out := &progressWriter{w: w}
	err = s.backend.ImagePull(r.ctx(), name, ImagePullOptions{Tag: tag, Platform: platform, Auth: authHeader(r)}, out)
	return out.end(err)
}

// repoTag checks "repo" and "tag" of import and tag; the tag defaults to
// "latest".
func repoTag(repo, tag string) (string, string, error) {
	ref, err := parseRepository(repo)
	if err != nil {
		return "", "", err
	}
	if _, ok := ref.(reference.Digested); ok {
		return "", "", invalidf("cannot import digest reference")
	}
	if tag == "" {
		if t, ok := ref.(reference.Tagged); ok {
			return reference.TrimNamed(ref).String(), t.Tag(), nil
		}
		tag = "latest"
	}
	if _, err := reference.WithTag(reference.TrimNamed(ref), tag); err != nil {
		return "", "", invalidf("invalid tag %q: %v", tag, err)
	}
	return repo, tag, nil
}

func (s *Server) importImage(w http.ResponseWriter, r *request, platform string) error {
	src := r.query.Get("fromSrc")
	if src == "" {
		return invalidf("fromImage or fromSrc is required")
	}
	opts := ImageImportOptions{Message: r.query.Get("message"), Changes: r.query["changes"], Platform: platform}
	if repo := r.query.Get("repo"); repo != "" {
		var err error
		if opts.Repo, opts.Tag, err = repoTag(repo, r.query.Get("tag")); err != nil {
			return err
		}
	}
	if opts.Message == "" {
		opts.Message = "Imported from " + src
	}
	if src == "-" {
		fullDuplex(w)
	}
	out := &progressWriter{w: w}
	var layer io.Reader = r.Body
	if src != "-" {
		body, err := s.download(r, src, out)
		if err != nil {
			return out.end(err)
		}
		defer body.Close()
		layer = body
	}
	return out.end(s.backend.ImageImport(r.ctx(), layer, opts, out))
}

// download fetches an import source given as a URL (a bare host/path is
// http, as in dockerd).
func (s *Server) download(r *request, src string, out *progressWriter) (io.ReadCloser, error) {
	if !strings.Contains(src, "://") {
		src = "http://" + src
	}
	u, err := url.Parse(src)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, invalidf("invalid import source %q: must be - or an http(s) URL", src)
	}
	req, err := http.NewRequestWithContext(r.ctx(), http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, invalidf("invalid import source %q: %v", src, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, errdefs.Errorf(errdefs.ErrUnavailable, "import from %s: %w", u.Redacted(), err)
	}
	if resp.StatusCode/100 != 2 {
		resp.Body.Close()
		return nil, errdefs.Errorf(errdefs.ErrInvalidParameter, "import from %s: %s", u.Redacted(), resp.Status)
	}
	out.status("Downloading from " + u.Redacted())
	return resp.Body, nil
}

func (s *Server) postImagePush(w http.ResponseWriter, r *request) error {
	name := r.vars["name"]
	tag := r.query.Get("tag")
	if tag != "" {
		if _, _, err := repoTag(name, tag); err != nil {
			return err
		}
	} else if _, err := parseRepository(name); err != nil {
		return err
	}
	var platform string
	if !r.olderThan("1.46") {
		p, err := platformString(r.query.Get("platform"))
		if err != nil {
			return err
		}
		platform = p
	}
	out := &progressWriter{w: w}
	err := s.backend.ImagePush(r.ctx(), name, ImagePushOptions{Tag: tag, Platform: platform, Auth: authHeader(r)}, out)
	return out.end(err)
}

func (s *Server) postImageTag(w http.ResponseWriter, r *request) error {
	repo := r.query.Get("repo")
	if repo == "" {
		return invalidf("repository name must not be empty")
	}
	repo, tag, err := repoTag(repo, r.query.Get("tag"))
	if err != nil {
		return err
	}
	if ref, _ := reference.ParseNormalizedNamed(repo); ref != nil && reference.FamiliarName(ref) == string(digest.Canonical) {
		return invalidf("refusing to create an ambiguous tag using digest algorithm as name")
	}
	if err := s.backend.ImageTag(r.ctx(), r.vars["name"], repo, tag); err != nil {
		return err
	}
	w.WriteHeader(http.StatusCreated)
	return nil
}

func (s *Server) deleteImage(w http.ResponseWriter, r *request) error {
	name := r.vars["name"]
	if strings.TrimSpace(name) == "" {
		return invalidf("image name cannot be blank")
	}
	list, err := s.backend.ImageDelete(r.ctx(), name, r.boolValue("force"), r.boolValue("noprune"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, nonNil(list))
}

func (s *Server) getImagesSearch(w http.ResponseWriter, r *request) error {
	term := r.query.Get("term")
	if term == "" {
		return invalidf("term is required")
	}
	var limit int
	if v := r.query.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return invalidf("invalid limit specified: %q", v)
		}
		limit = n
	}
	filters, err := r.filtersValue()
	if err != nil {
		return err
	}
	if err := checkFilterKeys(filters, []string{"is-automated", "is-official", "stars"}); err != nil {
		return err
	}
	results, err := s.backend.ImageSearch(r.ctx(), term, limit, filters, authHeader(r))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, nonNil(results))
}

func (s *Server) postImagesPrune(w http.ResponseWriter, r *request) error {
	filters, err := r.filtersValue()
	if err != nil {
		return err
	}
	report, err := s.backend.ImagesPrune(r.ctx(), filters)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, report)
}

// getImagesSave streams one docker-archive of the named images. An error
// before the first byte is a status; after it the connection is cut, so
// the client cannot take a truncated archive for a whole one.
func (s *Server) getImagesSave(w http.ResponseWriter, r *request) error {
	names := r.query["names"]
	if n, ok := r.vars["name"]; ok {
		names = []string{n}
	}
	if len(names) == 0 {
		return invalidf("no images named: use names=IMAGE")
	}
	out := &lazyWriter{w: w, contentType: "application/x-tar"}
	err := s.backend.ImageSave(r.ctx(), names, out)
	if err != nil && out.started {
		s.log.Warn("image save failed mid-stream", "images", names, "error", err)
		panic(http.ErrAbortHandler)
	}
	return err
}

// postImagesLoad reads a docker-archive of any size from the body.
func (s *Server) postImagesLoad(w http.ResponseWriter, r *request) error {
	fullDuplex(w)
	out := &progressWriter{w: w}
	err := s.backend.ImageLoad(r.ctx(), r.Body, r.boolOr("quiet", true), out)
	return out.end(err)
}

// fullDuplex lets a handler keep reading the request body after its
// progress stream started: net/http's HTTP/1.1 server otherwise ends the
// body at the first response write, and a load or import would read a
// truncated archive.
//
// The connection then closes with the response: a backend may leave a
// read of the body in flight when it returns (a decompressor reading
// ahead), and a next request on the same connection would start its own
// read beside it, which net/http refuses with a panic ("invalid
// concurrent Body.Read call").
func fullDuplex(w http.ResponseWriter) {
	w.Header().Set("Connection", "close")
	_ = http.NewResponseController(w).EnableFullDuplex()
}

// errBody is the error message of a JSON progress stream.
func errBody(err error) map[string]any {
	msg := errdefs.Message(err)
	return map[string]any{"errorDetail": map[string]any{"message": msg}, "error": msg}
}
