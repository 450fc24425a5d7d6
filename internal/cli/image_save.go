package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

func newSaveCommand(a *app) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "save [OPTIONS] IMAGE [IMAGE...]",
		Short: "Save one or more images to a tar archive (streamed to STDOUT by default)",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var out io.Writer = a.streams.Out
			var file *os.File
			if output == "" {
				if isTerminal(a.streams.Out) {
					return errors.New("cowardly refusing to save to a terminal. Use the -o flag or redirect")
				}
			} else {
				// Written beside the target and renamed over it, so a
				// failed save leaves no half archive.
				f, err := os.CreateTemp(filepath.Dir(output), "."+filepath.Base(output)+".*")
				if err != nil {
					return fmt.Errorf("failed to save image: %w", err)
				}
				defer os.Remove(f.Name())
				defer f.Close()
				out, file = f, f
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			res, err := c.ImageSave(cmd.Context(), args)
			if err != nil {
				return err
			}
			defer res.Close()
			if _, err := io.Copy(out, res); err != nil {
				return err
			}
			if file == nil {
				return nil
			}
			if err := file.Chmod(0o600); err != nil {
				return err
			}
			if err := file.Sync(); err != nil {
				return err
			}
			if err := file.Close(); err != nil {
				return err
			}
			return os.Rename(file.Name(), output)
		},
		Annotations:           map[string]string{"aliases": "berth image save, berth save"},
		DisableFlagsInUseLine: true,
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Write to a file, instead of STDOUT")
	return cmd
}
