package firewall

import "context"

// noneBackend is --iptables=false: Berth touches no firewall state, so
// published ports, masquerade and isolation are the administrator's job.
type noneBackend struct{}

var _ Backend = noneBackend{}

func (noneBackend) Name() string                                            { return None }
func (noneBackend) Init(context.Context) error                              { return nil }
func (noneBackend) SetNetwork(context.Context, Net) error                   { return nil }
func (noneBackend) DeleteNetwork(context.Context, string) error             { return nil }
func (noneBackend) SetPorts(context.Context, string, []Mapping) error       { return nil }
func (noneBackend) DeletePorts(context.Context, string) error               { return nil }
func (noneBackend) Sync(context.Context, []Net, map[string][]Mapping) error { return nil }
func (noneBackend) Teardown(context.Context) error                          { return nil }
