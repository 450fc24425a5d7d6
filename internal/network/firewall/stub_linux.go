package firewall

import (
	"context"
	"errors"
	"log/slog"
)

// Placeholders until the real backends land (the exported API comes first
// so the network package compiles against it).
func newNFTables(ctx context.Context, prefix string, log *slog.Logger) (Backend, error) {
	return nil, errUnavailable(NFTables, errors.New("not implemented yet"))
}

func newIPTables(ctx context.Context, prefix string, log *slog.Logger) (Backend, error) {
	return nil, errUnavailable(IPTables, errors.New("not implemented yet"))
}
