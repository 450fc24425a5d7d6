package image

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"github.com/berth-project/berth/internal/content"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/snapshot"
	digest "github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/identity"
)

// Report is what Check found.
type Report struct {
	// Problems are inconsistencies: a record that does not resolve, a
	// blob whose content is not its digest, a missing layer or snapshot,
	// a leftover temporary. A store with problems needs repair.
	Problems []string
	// OrphanContent and OrphanSnapshots are what no record references:
	// not a problem (a GC collects them) but tests of delete and crash
	// recovery assert on them.
	OrphanContent   []digest.Digest
	OrphanSnapshots []string
}

// OK reports whether Check found no problem.
func (r Report) OK() bool { return len(r.Problems) == 0 }

func (r *Report) addf(format string, args ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

// Check verifies the store: the content store's own check (every blob
// matches its digest, no stray ingest files), every record resolves
// (target, the platform's manifest, config parse; every layer blob
// present with its manifest size), every image whose top layer is
// unpacked has its whole chain committed with the right parents, no
// temporary record file or unfinished unpack snapshot is left, and which
// blobs and snapshots are orphans. Call it on a store no one is writing.
func (s *Store) Check(ctx context.Context) (Report, error) {
	var rep Report
	if err := s.checkContent(ctx, &rep); err != nil {
		return rep, err
	}
	if tmps, _ := filepath.Glob(filepath.Join(s.root, ".tmp-*")); len(tmps) > 0 {
		rep.addf("records: temporary files left behind: %s", strings.Join(tmps, ", "))
	}
	recs, err := s.Records(ctx)
	if err != nil {
		return rep, err
	}
	for _, rec := range recs {
		name := rec.Name
		if name == "" {
			name = "<none>@" + rec.Target.Digest.String()
		}
		res, err := resolve(ctx, s.content, rec.Target, s.opts.platform)
		if err != nil {
			rep.addf("image %s: %v", name, err)
			continue
		}
		for i, l := range res.ManifestBody.Layers {
			info, err := s.content.Info(ctx, l.Digest)
			if err != nil {
				rep.addf("image %s: layer %d %s: %v", name, i, l.Digest, err)
				continue
			}
			if l.Size > 0 && info.Size != l.Size {
				rep.addf("image %s: layer %d %s is %d bytes, the manifest says %d", name, i, l.Digest, info.Size, l.Size)
			}
		}
		if s.snapshots != nil {
			s.checkChain(ctx, &rep, name, res)
		}
	}
	if s.snapshots != nil {
		err := s.snapshots.Walk(ctx, func(_ context.Context, info snapshot.Info) error {
			if strings.HasPrefix(info.Name, unpackKeyPrefix) {
				rep.addf("snapshot %s: an unfinished unpack's snapshot is left", info.Name)
			}
			return nil
		})
		if err != nil {
			return rep, err
		}
	}
	if err := s.findOrphans(ctx, &rep); err != nil {
		return rep, err
	}
	return rep, nil
}

// checkChain checks an unpacked image's snapshots. An image whose top
// chain is absent is simply not unpacked (a load without unpack, an
// unpack killed midway): not a problem.
func (s *Store) checkChain(ctx context.Context, rep *Report, name string, res *Resolved) {
	chains := identity.ChainIDs(append([]digest.Digest(nil), res.DiffIDs()...))
	if len(chains) == 0 {
		return
	}
	if _, err := s.snapshots.Stat(ctx, chains[len(chains)-1].String()); errdefs.IsNotFound(err) {
		return
	}
	parent := ""
	for i, c := range chains {
		info, err := s.snapshots.Stat(ctx, c.String())
		if err != nil {
			rep.addf("image %s: layer %d snapshot %s: %v", name, i, c, err)
			return
		}
		if info.Kind != snapshot.KindCommitted {
			rep.addf("image %s: layer %d snapshot %s is %s, not committed", name, i, c, info.Kind)
		}
		if info.Parent != parent {
			rep.addf("image %s: layer %d snapshot %s has parent %q, want %q", name, i, c, info.Parent, parent)
		}
		parent = c.String()
	}
}

func (s *Store) checkContent(ctx context.Context, rep *Report) error {
	// No fsck of its own: read every blob back and compare.
	return s.content.Walk(ctx, func(info content.Info) error {
		ra, err := s.content.ReaderAt(ctx, descOf(info))
		if err != nil {
			rep.addf("content: blob %s: %v", info.Digest, err)
			return nil
		}
		defer ra.Close()
		d := info.Digest.Algorithm().Digester()
		n, err := io.Copy(d.Hash(), io.NewSectionReader(ra, 0, ra.Size()))
		if err != nil {
			rep.addf("content: blob %s: %v", info.Digest, err)
		} else if d.Digest() != info.Digest || n != info.Size {
			rep.addf("content: blob %s holds %d bytes of digest %s", info.Digest, n, d.Digest())
		}
		return nil
	})
}

// findOrphans lists what a GC would collect now, without collecting.
func (s *Store) findOrphans(ctx context.Context, rep *Report) error {
	recs, err := s.Records(ctx)
	if err != nil {
		return err
	}
	roots := targetsOf(recs)
	marked, chains, err := s.markContent(ctx, roots)
	if err != nil {
		return err
	}
	err = s.content.Walk(ctx, func(info content.Info) error {
		if !marked[info.Digest] {
			rep.OrphanContent = append(rep.OrphanContent, info.Digest)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if s.snapshots == nil {
		return nil
	}
	infos := map[string]snapshot.Info{}
	if err := s.snapshots.Walk(ctx, func(_ context.Context, info snapshot.Info) error {
		infos[info.Name] = info
		return nil
	}); err != nil {
		return err
	}
	keep := map[string]bool{}
	for name, info := range infos {
		if chains[name] || info.Kind != snapshot.KindCommitted {
			for n := name; n != "" && !keep[n]; n = infos[n].Parent {
				keep[n] = true
			}
		}
	}
	for name := range infos {
		if !keep[name] {
			rep.OrphanSnapshots = append(rep.OrphanSnapshots, name)
		}
	}
	sort.Strings(rep.OrphanSnapshots)
	return nil
}
