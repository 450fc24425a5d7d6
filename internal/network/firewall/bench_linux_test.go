package firewall

import (
	"fmt"
	"log/slog"
	"net/netip"
	"testing"

	"github.com/berth-project/berth/internal/testenv"
)

// BenchmarkSetPorts measures what a container start and stop cost the
// firewall: SetPorts then DeletePorts of one mapping, with 1000 other
// keys' mappings installed.
func BenchmarkSetPorts(b *testing.B) {
	testenv.RequireRoot(b)
	for _, prefer := range []string{NFTables, IPTables} {
		b.Run(prefer, func(b *testing.B) {
			prefix := newPrefix()
			fw, err := New(ctx, prefix, prefer, slog.Default())
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() {
				_ = fw.Teardown(ctx)
				for _, k := range kits {
					if k.prefer == prefer {
						k.removeUser(prefix)
					}
				}
			})
			c := netip.MustParseAddr("10.200.0.2")
			others := map[string][]Mapping{}
			for i := range 1000 {
				others[fmt.Sprint("k", i)] = []Mapping{{Proto: "tcp", HostPort: uint16(20000 + i), ContainerIP: c, ContainerPort: 80}}
			}
			if err := fw.Init(ctx); err != nil {
				b.Fatal(err)
			}
			if err := fw.Sync(ctx, []Net{{Bridge: prefix + "b", Subnet: netip.MustParsePrefix("10.200.0.0/24"), ICC: true, Masquerade: true}}, others); err != nil {
				b.Fatal(err)
			}
			m := []Mapping{{Proto: "tcp", HostPort: 19999, ContainerIP: c, ContainerPort: 80}}
			b.ResetTimer()
			for b.Loop() {
				if err := fw.SetPorts(ctx, "bench", m); err != nil {
					b.Fatal(err)
				}
				if err := fw.DeletePorts(ctx, "bench"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
