package server

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/moby/moby/api/types/container"
)

// The archive endpoints are docker cp's: HEAD stats a path in a
// container, GET reads it as a tar, PUT extracts a tar into a directory.

// pathStatHeader carries a path's stat, base64 (standard, padded) of its
// JSON, on HEAD and GET: the docker CLI decodes it to decide how to copy.
const pathStatHeader = "X-Docker-Container-Path-Stat"

// maxArchivePath is the longest path the archive endpoints take: the
// kernel's PATH_MAX, past which no file can be named.
const maxArchivePath = 4096

func (s *Server) archiveRoutes() []route {
	return []route{
		{method: "HEAD", pattern: "/containers/{name}/archive", h: s.headContainerArchive},
		{method: "GET", pattern: "/containers/{name}/archive", h: s.getContainerArchive, cpu: true},
		{method: "PUT", pattern: "/containers/{name}/archive", h: s.putContainerArchive, cpu: true},
	}
}

// archivePath reads the container and "path" of an archive request, with
// dockerd's message for a missing path.
func (r *request) archivePath() (name, path string, err error) {
	if name, err = r.container(); err != nil {
		return "", "", err
	}
	path = r.query.Get("path")
	switch {
	case path == "":
		return "", "", invalidf("bad parameter: path cannot be empty")
	case len(path) > maxArchivePath:
		return "", "", invalidf("invalid path: %d bytes long, the limit is %d", len(path), maxArchivePath)
	case strings.ContainsRune(path, 0):
		return "", "", invalidf("invalid path %q: it holds a NUL byte", path)
	}
	return name, path, nil
}

func setPathStat(w http.ResponseWriter, st container.PathStat) error {
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encoding path stat: %w", err)
	}
	w.Header().Set(pathStatHeader, base64.StdEncoding.EncodeToString(b))
	return nil
}

func (s *Server) headContainerArchive(w http.ResponseWriter, r *request) error {
	name, path, err := r.archivePath()
	if err != nil {
		return err
	}
	st, err := s.backend.ContainerStatPath(r.ctx(), name, path)
	if err != nil {
		return err
	}
	if err := setPathStat(w, st); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// getContainerArchive streams the tar as it is made. dockerd gzips it
// when the client accepts gzip (Go's client always says it does, and
// undoes it); Berth sends it plain: on a unix socket compression only
// costs time, and a client that accepts gzip accepts identity too.
func (s *Server) getContainerArchive(w http.ResponseWriter, r *request) error {
	name, path, err := r.archivePath()
	if err != nil {
		return err
	}
	rc, st, err := s.backend.ContainerArchivePath(r.ctx(), name, path)
	if err != nil {
		return err
	}
	defer rc.Close()
	if err := setPathStat(w, st); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-tar")
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, rc); err != nil {
		// The status is gone: only a broken connection tells the client
		// that its tar is cut short.
		s.log.Warn("container archive failed mid-stream", "container", name, "path", path, "error", err)
		panic(http.ErrAbortHandler)
	}
	return nil
}

func (s *Server) putContainerArchive(w http.ResponseWriter, r *request) error {
	name, path, err := r.archivePath()
	if err != nil {
		return err
	}
	opts := ExtractOptions{
		CopyUIDGID:           r.boolValue("copyUIDGID"),
		NoOverwriteDirNonDir: r.boolValue("noOverwriteDirNonDir"),
	}
	if err := s.backend.ContainerExtractToDir(r.ctx(), name, path, opts, r.Body); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}
