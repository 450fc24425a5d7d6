package spec

import (
	"context"
	"testing"
)

// BenchmarkGenerate is the cost Generate adds to every container start.
func BenchmarkGenerate(b *testing.B) {
	in := baseInput(b)
	ctx := context.Background()
	for b.Loop() {
		if _, err := Generate(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}
