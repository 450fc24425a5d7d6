package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	sdk "github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

func newExportCommand(a *app) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "export [OPTIONS] CONTAINER",
		Short: "Export a container's filesystem as a tar archive",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runExport(cmd.Context(), a, args[0], output)
		},
		Annotations:           map[string]string{"aliases": "berth container export, berth export"},
		DisableFlagsInUseLine: true,
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Write to a file, instead of STDOUT")
	return cmd
}

func runExport(ctx context.Context, a *app, name, output string) error {
	if output == "" && isTerminal(a.streams.Out) {
		return errors.New("cowardly refusing to save to a terminal. Use the -o flag or redirect")
	}
	if err := checkExportOutput(output); err != nil {
		return fmt.Errorf("failed to export container: %w", err)
	}
	c, err := a.client()
	if err != nil {
		return err
	}
	res, err := c.ContainerExport(ctx, name, sdk.ContainerExportOptions{})
	if err != nil {
		return err
	}
	defer res.Close()
	if output == "" {
		_, err := io.Copy(a.streams.Out, res)
		return err
	}
	return writeFileAtomic(output, res)
}

// checkExportOutput refuses, with docker's words, an output file whose
// directory is missing or that is something other than a regular file.
func checkExportOutput(p string) error {
	if p == "" {
		return nil
	}
	if dir := filepath.Dir(filepath.Clean(p)); dir != "." {
		if _, err := os.Stat(dir); err != nil {
			return fmt.Errorf("invalid output path: %w", err)
		}
	}
	fi, err := os.Lstat(p)
	if err != nil {
		return nil // created by the export
	}
	m := fi.Mode()
	switch {
	case m.IsDir():
		return errors.New("cannot write to a directory")
	case m&fs.ModeSymlink != 0:
		return errors.New("cannot write to a symbolic link directly")
	case m&fs.ModeNamedPipe != 0:
		return errors.New("cannot write to a named pipe (FIFO)")
	case m&fs.ModeSocket != 0:
		return errors.New("cannot write to a socket")
	case m&fs.ModeCharDevice != 0:
		return errors.New("cannot write to a character device file")
	case m&fs.ModeDevice != 0:
		return errors.New("cannot write to a block device file")
	}
	return nil
}

// writeFileAtomic writes r beside path and renames it over path, so a
// failed copy leaves no half file (docker's CopyToFile).
func writeFileAtomic(path string, r io.Reader) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".docker_temp_")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
