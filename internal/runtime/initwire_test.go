package runtime

import (
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// fill sets every field reachable from v: pointers, slices and maps
// non-nil (slices and maps with two elements), numbers and strings to
// values that differ from field to field. empty makes slices and maps
// empty but not nil, and leaves scalars zero, instead.
func fill(v reflect.Value, n *int, empty bool) {
	*n++
	switch v.Kind() {
	case reflect.String:
		if !empty {
			v.SetString("s" + string(rune('a'+*n%26)) + string(rune('a'+*n/26%26)))
		}
	case reflect.Bool:
		v.SetBool(!empty)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if !empty {
			v.SetInt(-int64(*n) * 1001) // negative, and past one varint byte
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if !empty {
			v.SetUint(uint64(*n) * 1009 % (1 << (v.Type().Bits() - 1)))
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), n, empty)
	case reflect.Struct:
		for i := range v.NumField() {
			if !v.Type().Field(i).IsExported() {
				continue
			}
			fill(v.Field(i), n, empty)
		}
	case reflect.Slice:
		l := 2
		if empty {
			l = 0
		}
		v.Set(reflect.MakeSlice(v.Type(), l, l))
		for i := range l {
			fill(v.Index(i), n, empty)
		}
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		if empty {
			return
		}
		for range 2 {
			k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
			fill(k, n, false)
			fill(e, n, false)
			v.SetMapIndex(k, e)
		}
	default:
		panic("fill: no rule for " + v.Type().String())
	}
}

// TestInitConfigWireComplete round-trips configs with every field set, by
// reflection: a field added to initConfig or to a spec type it holds
// (runtime-spec module updates) and not carried by the encoding fails here.
func TestInitConfigWireComplete(t *testing.T) {
	for _, empty := range []bool{false, true} {
		var in initConfig
		n := 0
		fill(reflect.ValueOf(&in).Elem(), &n, empty)
		out, err := decodeInitConfig(in.encode())
		if err != nil {
			t.Fatalf("empty %v: %v", empty, err)
		}
		if !reflect.DeepEqual(&in, out) {
			t.Errorf("empty %v: round trip changed the config:\n in %+v\nout %+v", empty, in, *out)
			if !reflect.DeepEqual(in.Process, out.Process) {
				t.Errorf("process:\n in %+v\nout %+v", *in.Process, *out.Process)
			}
		}
	}
	// All nil and zero stays so.
	out, err := decodeInitConfig((&initConfig{}).encode())
	if err != nil || !reflect.DeepEqual(out, &initConfig{}) {
		t.Errorf("zero config: %+v %v", out, err)
	}
}

func TestInitConfigWireRealistic(t *testing.T) {
	in := containerInitConfig(DefaultSpec(false))
	in.Seccomp = []byte{1, 2, 3}
	in.Cgroups = []cgroupMount{{Dir: "cpu,cpuacct", Options: "cpu,cpuacct", HostPath: "/sys/fs/cgroup/cpu,cpuacct/x", Symlinks: []string{"cpu", "cpuacct"}}}
	out, err := decodeInitConfig(in.encode())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Errorf("round trip:\n in %+v\nout %+v", in, out)
	}
}

// TestInitConfigWireCorrupt: a short or altered encoding is an error,
// never a panic or a huge allocation.
func TestInitConfigWireCorrupt(t *testing.T) {
	var in initConfig
	n := 0
	fill(reflect.ValueOf(&in).Elem(), &n, false)
	b := in.encode()
	for i := range b {
		if _, err := decodeInitConfig(b[:i]); err == nil {
			t.Fatalf("a %d-byte prefix of %d decoded", i, len(b))
		}
	}
	if _, err := decodeInitConfig(append(b, 0)); err == nil {
		t.Error("a trailing byte was ignored")
	}
	if _, err := decodeInitConfig(append([]byte{initWireVersion + 1}, b[1:]...)); err == nil {
		t.Error("another version decoded")
	}
	// A string claiming 2^62 bytes.
	if _, err := decodeInitConfig([]byte{initWireVersion, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40}); err == nil {
		t.Error("a huge length decoded")
	}
}

func FuzzDecodeInitConfig(f *testing.F) {
	f.Add((&initConfig{}).encode())
	f.Add(containerInitConfig(DefaultSpec(false)).encode())
	spec := DefaultSpec(false)
	spec.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{{Path: "/bin/true", Timeout: new(int)}}}
	f.Add(containerInitConfig(spec).encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := decodeInitConfig(b)
		if err != nil {
			return
		}
		// What decodes encodes back to the same bytes, but for map
		// order: decode the re-encoding and compare values.
		again, err := decodeInitConfig(cfg.encode())
		if err != nil || !reflect.DeepEqual(cfg, again) {
			t.Fatalf("re-encoding: %v\n%+v\n%+v", err, cfg, again)
		}
	})
}
