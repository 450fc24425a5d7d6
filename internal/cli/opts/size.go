package opts

import (
	"errors"
	"fmt"
	"math/big"

	units "github.com/docker/go-units"
)

// Bytes is a size flag in docker's notation ("512m", "1g": binary units).
type Bytes int64

// Set implements pflag.Value.
func (b *Bytes) Set(v string) error {
	n, err := units.RAMInBytes(v)
	*b = Bytes(n)
	return err
}

// String implements pflag.Value; zero prints as "0" so help shows no default.
func (b *Bytes) String() string {
	if *b == 0 {
		return "0"
	}
	return units.BytesSize(float64(*b))
}

// Type implements pflag.Value.
func (*Bytes) Type() string { return "bytes" }

// Value is the size in bytes.
func (b *Bytes) Value() int64 { return int64(*b) }

// SwapBytes is --memory-swap: a size, or -1 for unlimited swap.
type SwapBytes int64

// Set implements pflag.Value.
func (s *SwapBytes) Set(v string) error {
	if v == "-1" {
		*s = -1
		return nil
	}
	n, err := units.RAMInBytes(v)
	*s = SwapBytes(n)
	return err
}

// String implements pflag.Value.
func (s *SwapBytes) String() string { b := Bytes(*s); return b.String() }

// Type implements pflag.Value.
func (*SwapBytes) Type() string { return "bytes" }

// Value is the size in bytes, or -1.
func (s *SwapBytes) Value() int64 { return int64(*s) }

// NanoCPUs is --cpus: a decimal number of CPUs, kept in billionths.
type NanoCPUs int64

// Set implements pflag.Value.
func (c *NanoCPUs) Set(v string) error {
	r, ok := new(big.Rat).SetString(v)
	if !ok {
		return fmt.Errorf("failed to parse %v as a rational number", v)
	}
	r.Mul(r, big.NewRat(1e9, 1))
	if !r.IsInt() {
		return errors.New("value is too precise")
	}
	*c = NanoCPUs(r.Num().Int64())
	return nil
}

// String implements pflag.Value.
func (c *NanoCPUs) String() string {
	if *c == 0 {
		return ""
	}
	return big.NewRat(int64(*c), 1e9).FloatString(3)
}

// Type implements pflag.Value.
func (*NanoCPUs) Type() string { return "decimal" }

// Value is the number of billionths of a CPU.
func (c *NanoCPUs) Value() int64 { return int64(*c) }
