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

// The kinds of problem the image store's Check adds to the content
// store's report.
const (
	// ProblemUnresolvable is a record whose target, manifest or config is
	// missing or does not parse.
	ProblemUnresolvable content.ProblemKind = "image.unresolvable"
	// ProblemMissingLayer is a layer blob an image needs that is absent
	// or of the wrong size.
	ProblemMissingLayer content.ProblemKind = "image.missing-layer"
	// ProblemBrokenChain is an unpacked image whose snapshot chain has a
	// hole or a wrong parent.
	ProblemBrokenChain content.ProblemKind = "image.broken-chain"
	// ProblemUnfinishedUnpack is a snapshot an unpack prepared and never
	// committed or removed.
	ProblemUnfinishedUnpack content.ProblemKind = "image.unfinished-unpack"
	// ProblemStray is a temporary records file left behind.
	ProblemStray content.ProblemKind = "image.stray"
	// ProblemCorruptBlob is a blob that does not hash to its digest, found
	// when the content store has no check of its own.
	ProblemCorruptBlob content.ProblemKind = "image.corrupt-blob"
)

// Orphans are what no record references: not problems (the next GC
// collects them), but what tests of delete and crash recovery look at.
type Orphans struct {
	Content   []digest.Digest
	Snapshots []string
}

// contentChecker is the content store's own fsck (LocalStore has one).
type contentChecker interface {
	Check(ctx context.Context, opts ...content.CheckOpt) (*content.Report, error)
}

// Check verifies the store and returns the content store's report with
// the image store's problems merged in: the content store's own check
// (every blob hashes to its name, no stray or stale files; opts go to
// it), every record resolves (target, the platform's manifest, config
// parse, every layer blob present at its manifest size), every image
// whose top layer is unpacked has its whole chain committed with the
// right parents, and no temporary records file or unfinished unpack
// snapshot is left. The counts "image.records" and "image.snapshots" say
// what was examined.
func (s *Store) Check(ctx context.Context, opts ...content.CheckOpt) (*content.Report, error) {
	rep := &content.Report{}
	if err := s.checkContent(ctx, rep, opts); err != nil {
		return rep, err
	}
	if tmps, _ := filepath.Glob(filepath.Join(s.root, ".tmp-*")); len(tmps) > 0 {
		for _, t := range tmps {
			rep.Add(content.Problem{Kind: ProblemStray, Subject: filepath.Base(t), Path: t, Detail: "temporary records file left behind"})
		}
	}
	recs, err := s.Records(ctx)
	if err != nil {
		return rep, err
	}
	for _, rec := range recs {
		rep.Count("image.records", 1)
		name := rec.Name
		if name == "" {
			name = "<none>@" + rec.Target.Digest.String()
		}
		res, err := resolve(ctx, s.content, rec.Target, s.opts.platform)
		if err != nil {
			rep.Add(content.Problem{Kind: ProblemUnresolvable, Subject: name, Detail: err.Error()})
			continue
		}
		for i, l := range res.ManifestBody.Layers {
			info, err := s.content.Info(ctx, l.Digest)
			if err != nil {
				rep.Add(content.Problem{Kind: ProblemMissingLayer, Subject: name, Detail: fmt.Sprintf("layer %d %s: %v", i, l.Digest, err)})
				continue
			}
			if info.Size != l.Size {
				rep.Add(content.Problem{Kind: ProblemMissingLayer, Subject: name, Detail: fmt.Sprintf("layer %d %s is %d bytes, the manifest says %d", i, l.Digest, info.Size, l.Size)})
			}
		}
		if s.snapshots != nil {
			s.checkChain(ctx, rep, name, res)
		}
	}
	if s.snapshots != nil {
		err := s.snapshots.Walk(ctx, func(_ context.Context, info snapshot.Info) error {
			rep.Count("image.snapshots", 1)
			if strings.HasPrefix(info.Name, unpackKeyPrefix) {
				rep.Add(content.Problem{Kind: ProblemUnfinishedUnpack, Subject: info.Name, Detail: "an unpack's snapshot that was never committed"})
			}
			return nil
		})
		if err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// checkChain checks an unpacked image's snapshots. An image whose top
// chain is absent is simply not unpacked (a load without unpack, an
// unpack killed midway): not a problem.
func (s *Store) checkChain(ctx context.Context, rep *content.Report, name string, res *Resolved) {
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
		switch {
		case err != nil:
			rep.Add(content.Problem{Kind: ProblemBrokenChain, Subject: name, Detail: fmt.Sprintf("layer %d snapshot %s: %v", i, c, err)})
			return
		case info.Kind != snapshot.KindCommitted:
			rep.Add(content.Problem{Kind: ProblemBrokenChain, Subject: name, Detail: fmt.Sprintf("layer %d snapshot %s is %s, not committed", i, c, info.Kind)})
		case info.Parent != parent:
			rep.Add(content.Problem{Kind: ProblemBrokenChain, Subject: name, Detail: fmt.Sprintf("layer %d snapshot %s has parent %q, want %q", i, c, info.Parent, parent)})
		}
		parent = c.String()
	}
}

func (s *Store) checkContent(ctx context.Context, rep *content.Report, opts []content.CheckOpt) error {
	if cc, ok := s.content.(contentChecker); ok {
		cr, err := cc.Check(ctx, opts...)
		if err != nil {
			return fmt.Errorf("content check: %w", err)
		}
		rep.Merge(cr)
		return nil
	}
	// No fsck of its own: read every blob back and compare.
	return s.content.Walk(ctx, func(info content.Info) error {
		ra, err := s.content.ReaderAt(ctx, descOf(info))
		if err != nil {
			rep.Add(content.Problem{Kind: ProblemCorruptBlob, Subject: info.Digest.String(), Detail: err.Error()})
			return nil
		}
		defer ra.Close()
		d := info.Digest.Algorithm().Digester()
		n, err := io.Copy(d.Hash(), io.NewSectionReader(ra, 0, ra.Size()))
		if err != nil {
			rep.Add(content.Problem{Kind: ProblemCorruptBlob, Subject: info.Digest.String(), Detail: err.Error()})
		} else if d.Digest() != info.Digest || n != info.Size {
			rep.Add(content.Problem{Kind: ProblemCorruptBlob, Subject: info.Digest.String(), Detail: fmt.Sprintf("holds %d bytes of digest %s", n, d.Digest())})
		}
		return nil
	})
}

// Orphans lists what a GC would collect now, without collecting.
func (s *Store) Orphans(ctx context.Context) (Orphans, error) {
	var o Orphans
	recs, err := s.Records(ctx)
	if err != nil {
		return o, err
	}
	marked, chains, err := s.markContent(ctx, targetsOf(recs))
	if err != nil {
		return o, err
	}
	err = s.content.Walk(ctx, func(info content.Info) error {
		if !marked[info.Digest] {
			o.Content = append(o.Content, info.Digest)
		}
		return nil
	})
	if err != nil || s.snapshots == nil {
		return o, err
	}
	infos := map[string]snapshot.Info{}
	if err := s.snapshots.Walk(ctx, func(_ context.Context, info snapshot.Info) error {
		infos[info.Name] = info
		return nil
	}); err != nil {
		return o, err
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
			o.Snapshots = append(o.Snapshots, name)
		}
	}
	sort.Strings(o.Snapshots)
	return o, nil
}
