# GPMD — build, run and test. `make help` lists the targets.

GO           ?= go
BIN          ?= bin/gpmd
# gpmd-daemon: the same command tree with the engine linked in; gpmd hands
# it the daemon, restore, rebuild-index, import and backup (issue 15: the
# command line's start links none of the engine). Always beside $(BIN).
DAEMON_BIN   ?= $(dir $(BIN))gpmd-daemon
GVM_BIN      ?= bin/gvm
# gpmd is built without cgo: a static binary starts without the dynamic
# loader and libc, about 0.7 ms of every CLI command's ~4 ms start (issue
# 15, make bench-e2e). Nothing in gpmd needs cgo: its addresses are IP
# literals on loopback, resolved by Go's own resolver if ever a name.
GPMD_ENV     ?= CGO_ENABLED=0
# go test -race of the whole project; it must stay well under 10 minutes
# on 2 cores. As CI runs it (bash .ci/run, warm build and tool caches):
# 129 s twice in a row on 2 otherwise idle cores, beside a gpmd on the
# default ports; 6 min 18 s with other work on the machine (load 15+).
TEST_TIMEOUT ?= 9m
TEST_FLAGS   ?=
BENCH        ?= .
BENCHTIME    ?= 1s
# Each fuzz target runs this long (go test -fuzztime).
FUZZTIME     ?= 30s
# Fuzz targets, as <package dir>:<FuzzFunc>. A crasher that `go test
# -fuzz` finds is written under <package dir>/testdata/fuzz/<FuzzFunc>/ and
# from then on runs as a regression case in every `make test`: commit it.
FUZZ_TARGETS ?= ./index:FuzzVersionGrammar ./index:FuzzDecodeRecord ./gmp:FuzzDecoder ./gmp:FuzzServer ./wasm:FuzzParse ./wasm:FuzzUnmarshalInfo ./fleet:FuzzParseEntry ./gvm/peer:FuzzServerInput ./internal/h1:FuzzReadResponse ./gmp:FuzzBase64 ./gmp/wire:FuzzValid ./gmp/wire:FuzzKeyIs ./gmp/wire:FuzzDecodeInt ./modulesjson:FuzzVersionLine
# make crashtest: kill -9 rounds (issue 5).
CRASH_ROUNDS ?= 100

.DEFAULT_GOAL := build

.PHONY: help build run test bench bench-oci bench-e2e bench-wasm lint install fuzz crashtest clean tools gvm examples wasm-fixtures nats-server-bin verify-unit scale

help:
	@echo "make build      build $(BIN) and $(DAEMON_BIN)"
	@echo "make gvm        build $(GVM_BIN), the reference GVM node"
	@echo "make examples   rebuild examples/modules/*.wasm from their definitions (go generate)"
	@echo "make run        build, then run gpmd in the foreground on the defaults (Ctrl-C stops it)"
	@echo "make test       go test -race ./... (timeout $(TEST_TIMEOUT))"
	@echo "make bench      benchmarks (BENCH=regexp, BENCHTIME=1s)"
	@echo "make bench-oci  push, pull, pull-through vs oras on the registry binary (OCI_BENCH_ROUNDS=9)"
	@echo "make bench-e2e  end-to-end ratios against minimal baselines, real processes on this disk (BENCH_E2E_FLAGS)"
	@echo "make bench-wasm upload with vs without the parse, the parser alone, the 10,000-version migration"
	@echo "make lint       go vet and gofmt"
	@echo "make install    go install ./cmd/gpmd and ./cmd/gpmd-daemon into \$$GOBIN"
	@echo "make fuzz       each fuzz target for FUZZTIME=$(FUZZTIME)"
	@echo "make wasm-fixtures  npm pack the real modules the wasm tests use into the test cache"
	@echo "make crashtest  the kill -9 campaign, CRASH_ROUNDS=$(CRASH_ROUNDS)"
	@echo "make scale      the full-size event fan-out test (1,000 subscribers, 10,000 registrations)"
	@echo "make tools      build the registry, oras and nats-server test tools from the module proxy (cached)"
	@echo "make verify-unit  systemd-analyze verify packaging/systemd/gpmd.service (needs Debian's systemd package)"

build:
	$(GPMD_ENV) $(GO) build -o $(BIN) ./cmd/gpmd
	$(GPMD_ENV) $(GO) build -o $(DAEMON_BIN) ./cmd/gpmd-daemon

gvm:
	$(GO) build -o $(GVM_BIN) ./cmd/gvm

examples:
	$(GO) generate ./examples/modules

run: build
	./$(BIN) start --foreground

# The wasm tests read real modules (sql.js, esbuild-wasm, @ffmpeg/core) from a
# cache outside the repository; see scripts/wasm-fixtures.sh.
wasm-fixtures:
	./scripts/wasm-fixtures.sh

test: tools wasm-fixtures
	$(GO) test -race -timeout $(TEST_TIMEOUT) $(TEST_FLAGS) ./...

bench:
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchtime $(BENCHTIME) -benchmem ./...

# The issue's registry speed targets, ratios in one run: the real daemon and
# CLI against the oras CLI, on the registry binary, OCI_BENCH_ROUNDS
# interleaved rounds of a 32 MiB module.
OCI_BENCH_ROUNDS ?= 9
bench-oci: tools wasm-fixtures
	$(GO) test -run '^$$' -bench '^BenchmarkRegistryRatios$$' -benchtime $(OCI_BENCH_ROUNDS)x -timeout 10m ./cmd/e2e

# The end-to-end comparisons of issue 15 (bench/e2e): real gpmd processes
# against minimal baselines on the disk of ./bin, each ratio the median of
# five pairs. BENCH_E2E_FLAGS passes flags, e.g. -only 'upload' -pairs 3.
BENCH_E2E_FLAGS ?=
bench-e2e: build wasm-fixtures
	$(GO) run ./bench/e2e -gpmd $(BIN) $(BENCH_E2E_FLAGS)

# Issue 9's speed targets: upload with the parse against without it, each
# upload new bytes (ratio of medians, and pair-ratio: the median of
# back-to-back pairs; 1 MiB, 16 MiB, ffmpeg-core.wasm), the parser alone on
# the real modules, and the index migration of 10,000 stored versions.
bench-wasm: wasm-fixtures
	$(GO) test -run '^$$' -bench '^BenchmarkUploadParseRatio$$' -benchtime 41x ./repo
	$(GO) test -run '^$$' -bench '^BenchmarkParse$$' ./wasm
	$(GO) test -run '^$$' -bench '^BenchmarkUpgradeInfo10k$$' -benchtime 1x ./migrations

lint:
	$(GO) vet ./...
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi

install:
	$(GPMD_ENV) $(GO) install ./cmd/gpmd ./cmd/gpmd-daemon

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "== $$pkg $$fn ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

# Scale tests too long for every make test: the full-size event fan-out
# (1,000 GMP subscribers while 10,000 registrations come and go, about 4 min).
scale:
	$(GO) test -count=1 -timeout 20m -run '^TestThousandSubscribersWhileNodesComeAndGo$$' ./gmp -gmp.events-full -v

crashtest:
	$(GO) test -count=1 -timeout 30m -run TestKillNineCampaign ./cmd/crashtest -rounds $(CRASH_ROUNDS) -v

# The registry, oras and nats-server binaries for the OCI and fleet
# end-to-end, interop and benchmark tests, built from the Go module proxy and
# cached: `make test` runs this first (a test that needs a tool never skips;
# a bare `go test` builds a missing one itself).
tools: nats-server-bin
	GO=$(GO) scripts/build-tools.sh

# The nats-server of the fleet's end-to-end tests (issue 13), into
# $${GPMD_TEST_CACHE:-$${XDG_CACHE_HOME:-~/.cache}/gpmd-test}/bin.
nats-server-bin:
	GO=$(GO) sh scripts/build-nats-server.sh

# The systemd unit, checked by systemd-analyze against the gpmd just built.
verify-unit: build
	DAEMON_BIN=$(DAEMON_BIN) scripts/verify-unit.sh

clean:
	rm -rf bin
