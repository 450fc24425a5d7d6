// Package guest holds the runtime's cgroup v2 smoke tests, which run only
// inside the test VM that scripts/vmtest.sh boots (a Debian kernel on a
// pure cgroup v2 hierarchy, see test/vm/README.md): it ships this package's
// test binary, built static, with a static bin/berth-runtime, and runs it
// with BERTH_VM_GUEST=1 and BERTH_RUNTIME set.
//
// Anywhere else the test binary exits at once with a note and runs nothing,
// so that `go test ./...` on a host still compiles and vets it; the host
// side is integration/vm's TestCgroupV2InVM.
package guest
