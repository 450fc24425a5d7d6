package cli

import (
	"strconv"
	"strings"
	"time"

	units "github.com/docker/go-units"
	"github.com/moby/moby/api/types/image"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/cli/format"
)

const (
	historyTable      = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
	historyExactTable = "table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
)

var historyHeader = format.Header{
	"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
	"CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT",
}

type historyOptions struct {
	human, quiet, noTrunc bool
	format                string
}

func newHistoryCommand(a *app) *cobra.Command {
	var o historyOptions
	cmd := &cobra.Command{
		Use:   "history [OPTIONS] IMAGE",
		Short: "Show the history of an image",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			res, err := c.ImageHistory(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			f := format.Format(o.format)
			if f == "" || f == format.Table {
				switch {
				case o.quiet:
					f = "{{.ID}}"
				case !o.human:
					f = historyExactTable
				default:
					f = historyTable
				}
			}
			rows := make([]any, len(res.Items))
			for i, h := range res.Items {
				rows[i] = historyRow{h: h, human: o.human, trunc: !o.noTrunc}
			}
			return format.Write(a.streams.Out, f, historyHeader, rows)
		},
		Annotations:           map[string]string{"aliases": "berth image history, berth history"},
		DisableFlagsInUseLine: true,
	}
	f := cmd.Flags()
	f.BoolVarP(&o.human, "human", "H", true, "Print sizes and dates in human readable format")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Only show image IDs")
	f.BoolVar(&o.noTrunc, "no-trunc", false, "Don't truncate output")
	f.StringVar(&o.format, "format", "", tableFormatHelp)
	return cmd
}

// historyRow is one layer of an image's history.
type historyRow struct {
	h            image.HistoryResponseItem
	human, trunc bool
}

func (r historyRow) MarshalJSON() ([]byte, error) { return format.MarshalMethods(r) }

func (r historyRow) ID() string {
	if r.trunc {
		return format.TruncateID(r.h.ID)
	}
	return r.h.ID
}

func (r historyRow) CreatedAt() string { return time.Unix(r.h.Created, 0).Format(time.RFC3339) }

// historyEpoch: older creation times are unknown ("N/A"), as docker shows.
var historyEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).Unix()

func (r historyRow) CreatedSince() string {
	if !r.human {
		return r.CreatedAt()
	}
	if r.h.Created <= historyEpoch {
		return "N/A"
	}
	return units.HumanDuration(time.Now().UTC().Sub(time.Unix(r.h.Created, 0))) + " ago"
}

func (r historyRow) CreatedBy() string {
	by := strings.ReplaceAll(r.h.CreatedBy, "\t", " ")
	if r.trunc {
		return format.Ellipsis(by, 45)
	}
	return by
}

func (r historyRow) Size() string {
	if r.human {
		return units.HumanSizeWithPrecision(float64(r.h.Size), 3)
	}
	return strconv.FormatInt(r.h.Size, 10)
}

func (r historyRow) Comment() string { return r.h.Comment }
