package system

import (
	"context"
	"runtime"
	"strconv"

	"github.com/moby/moby/api/types/system"
)

// Version is GET /version. The docker CLI shows the Engine component;
// the top-level fields are there for older clients.
func (s *Service) Version(ctx context.Context) (system.VersionResponse, error) {
	o := &s.opts
	v := system.VersionResponse{
		Platform:      system.PlatformInfo{Name: "Berth"},
		Version:       o.Version,
		APIVersion:    o.APIVersion,
		MinAPIVersion: o.MinAPIVersion,
		Os:            runtime.GOOS,
		Arch:          runtime.GOARCH,
		GitCommit:     o.GitCommit,
		GoVersion:     runtime.Version(),
		KernelVersion: s.host.kernel,
		BuildTime:     o.BuildTime,
	}
	v.Components = []system.ComponentVersion{{
		Name:    "Engine",
		Version: o.Version,
		Details: map[string]string{
			"ApiVersion":    o.APIVersion,
			"MinAPIVersion": o.MinAPIVersion,
			"GitCommit":     o.GitCommit,
			"GoVersion":     v.GoVersion,
			"Os":            v.Os,
			"Arch":          v.Arch,
			"KernelVersion": v.KernelVersion,
			"BuildTime":     o.BuildTime,
			"Experimental":  strconv.FormatBool(v.Experimental),
		},
	}}
	return v, nil
}
