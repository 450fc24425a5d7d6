package cli

import (
	"context"

	sdk "github.com/moby/moby/client"

	"github.com/berth-project/berth/internal/client"
)

// apiVersion is the API version c speaks with its daemon, negotiated
// first if no request has been made yet (the SDK negotiates lazily, and a
// version check before the first request would see the client's own
// maximum). A daemon that cannot be reached leaves the client's version:
// the request that follows reports the failure.
func apiVersion(ctx context.Context, c *client.Client) string {
	_, _ = c.Ping(ctx, sdk.PingOptions{NegotiateAPIVersion: true})
	return c.ClientVersion()
}
