package runtime

// table is a small lookup table written as a slice literal rather than a
// map literal: the linker lays a slice literal out in the binary, while a
// package's map literals are built by code at every start of the binary,
// the container's init included, whether they are used or not. For a few
// dozen entries a scan costs no more than hashing the key.
type table[K comparable, V any] []entry[K, V]

type entry[K comparable, V any] struct {
	key K
	val V
}

// lookup returns the value for k and whether there is one.
func (t table[K, V]) lookup(k K) (V, bool) {
	for _, e := range t {
		if e.key == k {
			return e.val, true
		}
	}
	var zero V
	return zero, false
}

// has reports whether k is in the table.
func (t table[K, V]) has(k K) bool {
	_, ok := t.lookup(k)
	return ok
}

// get returns the value for k, or the zero value.
func (t table[K, V]) get(k K) V {
	v, _ := t.lookup(k)
	return v
}
