// Command imagebench times Berth's image operations the way docker's are
// timed, for the comparison with dockerd: each opens a content store, an
// overlay snapshotter and an image store under -root (made if missing),
// runs one operation, prints how long it took, and exits non-zero on
// error. Load and pull unpack into the snapshotter, as docker load and
// docker pull do.
//
//	imagebench load -root DIR -i ARCHIVE
//	imagebench pull -root DIR [-insecure] REF
//	imagebench save -root DIR -o FILE REF
//
// It is test tooling, not a product CLI.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/distribution/reference"

	"github.com/berth-project/berth/internal/content"
	"github.com/berth-project/berth/internal/distribution"
	"github.com/berth-project/berth/internal/image"
	"github.com/berth-project/berth/internal/image/interchange"
	"github.com/berth-project/berth/internal/image/transfer"
	"github.com/berth-project/berth/internal/snapshot/overlay"
)

const usage = `usage:
  imagebench load -root DIR -i ARCHIVE
  imagebench pull -root DIR [-insecure] REF
  imagebench save -root DIR -o FILE REF`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	op := os.Args[1]
	fs := flag.NewFlagSet(op, flag.ExitOnError)
	root := fs.String("root", "", "directory of the stores (made if missing)")
	in := fs.String("i", "", "load: the archive to load")
	out := fs.String("o", "", "save: the file to write")
	insecure := fs.Bool("insecure", false, "pull: allow plain HTTP to the reference's registry")
	_ = fs.Parse(os.Args[2:])
	args := fs.Args()
	if ok := *root != "" && (op == "load" && *in != "" && len(args) == 0 ||
		op == "pull" && len(args) == 1 ||
		op == "save" && *out != "" && len(args) == 1); !ok {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	elapsed, err := run(context.Background(), op, *root, *in, *out, *insecure, args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "imagebench %s: %v\n", op, err)
		os.Exit(1)
	}
	fmt.Printf("%s: %.3fs\n", op, elapsed.Seconds())
}

// run opens the stores and times op; opening is not timed, as dockerd's
// start is not part of a docker command.
func run(ctx context.Context, op, root, in, out string, insecure bool, args []string) (time.Duration, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return 0, err
	}
	cs, err := content.NewStore(filepath.Join(root, "content"))
	if err != nil {
		return 0, err
	}
	sn, err := overlay.NewSnapshotter(filepath.Join(root, "overlay"))
	if err != nil {
		return 0, err
	}
	defer sn.Close()
	images, err := image.NewStore(ctx, filepath.Join(root, "images"), cs, sn)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	switch op {
	case "load":
		err = load(ctx, images, in)
	case "pull":
		err = pull(ctx, images, args[0], insecure)
	case "save":
		err = save(ctx, images, args[0], out)
	}
	return time.Since(start), err
}

func load(ctx context.Context, images *image.Store, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = interchange.Load(ctx, f, images)
	return err
}

func pull(ctx context.Context, images *image.Store, ref string, insecure bool) error {
	var opts []distribution.Option
	if insecure {
		named, err := reference.ParseNormalizedNamed(ref)
		if err != nil {
			return err
		}
		opts = append(opts, distribution.WithInsecureRegistries(reference.Domain(named)))
	}
	c, err := distribution.New(opts...)
	if err != nil {
		return err
	}
	_, err = transfer.Pull(ctx, c, images, ref)
	return err
}

func save(ctx context.Context, images *image.Store, ref, path string) error {
	// O_EXCL: a benchmark never overwrites a file it did not make.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if err := interchange.Save(ctx, f, images, []string{ref}); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	// The data on disk, as docker save's is when it returns.
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
