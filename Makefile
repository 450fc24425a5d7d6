# Every binary lands in ./bin; other work relies on that path.
GO      ?= go
BIN     := bin
# Stripped binaries: the runtime copies itself into a sealed memfd on every
# container start (CVE-2019-5736), so a smaller binary is a faster start.
LDFLAGS := -s -w
# Every command under cmd/ is built. Only the runtime needs cgo (its nsenter
# constructor); all are static, so none carries a dynamic loader: they run
# anywhere and start faster.
BINARIES := $(notdir $(wildcard cmd/*))
CGO_BINARIES := berth-runtime

PREFIX  ?= /usr/local

.PHONY: all build install test test-unit lint validation bench clean $(BINARIES) berth-shim-keeper

all: build

build: $(BINARIES) berth-shim-keeper

# The keeper of hibernated shims (internal/shim/keeper): C without a C
# library, static, a few pages of memory where the Go shim it stands for
# needs 0.9 MiB.
CC ?= cc
KEEPER_CFLAGS := -Os -static -nostdlib -ffreestanding -fno-stack-protector \
	-fno-asynchronous-unwind-tables -fno-pie -no-pie -s -Wall -Wextra -Werror
berth-shim-keeper:
	@mkdir -p $(BIN)
	$(CC) $(KEEPER_CFLAGS) -o $(BIN)/$@ internal/shim/keeper/keeper.c

# The runtime links statically too (musl's libc.a, Go's own resolver and
# user lookup): every container start execs it (its stage and init), and
# a dynamic loader's work there is a millisecond per start on slow hosts.
# musl rather than glibc: a static glibc probes the caches with some fifty
# cpuid instructions at every start, each a trap to the hypervisor in a VM
# (6 us here); the runtime's start took 1.62 ms of CPU with glibc, 1.17
# with musl (perf stat -r 100 berth-runtime --version).
STATIC_CGO := -linkmode external -extldflags -static
STATIC_TAGS := netgo,osusergo
CGO_CC ?= musl-gcc

# The shim and the runtime are built without the Green Tea collector when
# this Go has the switch. Neither collects in the normal course (the shim
# never while idle; the runtime's processes, two per container start, live
# milliseconds), and Green Tea's mark bits at the end of every small-object
# span dirty one more page per size class: about 55 KiB per idle shim
# (internal/shim/doc.go), and 50-70 page faults per runtime start (1.30
# against 1.20 ms of CPU: perf stat -r 200 berth-runtime --version).
NOGREENTEA := $(shell GOEXPERIMENT=nogreenteagc $(GO) env GOEXPERIMENT >/dev/null 2>&1 && echo nogreenteagc)
NOGREENTEA_BINARIES := berth-shim berth-runtime

$(BINARIES):
	$(if $(and $(filter $@,$(NOGREENTEA_BINARIES)),$(NOGREENTEA)),GOEXPERIMENT=$(NOGREENTEA)) \
	$(if $(filter $@,$(CGO_BINARIES)),CC=$(CGO_CC)) \
	CGO_ENABLED=$(if $(filter $@,$(CGO_BINARIES)),1,0) $(GO) build -trimpath \
		$(if $(filter $@,$(CGO_BINARIES)),-tags $(STATIC_TAGS)) \
		-ldflags '$(LDFLAGS) $(if $(filter $@,$(CGO_BINARIES)),$(STATIC_CGO))' -o $(BIN)/$@ ./cmd/$@

install: build
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(addprefix $(BIN)/,$(BINARIES) berth-shim-keeper) $(DESTDIR)$(PREFIX)/bin/

# Unit and integration tests. Integration tests need root (CI is root).
test: build
	$(GO) test -count=1 ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	staticcheck ./...

# The OCI runtime validation suite (runtime-tools), built from the module cache.
validation: build
	scripts/oci-validation.sh $(CURDIR)/$(BIN)/berth-runtime

clean:
	rm -rf $(BIN)
