# zwamp — build, test, fuzz, bench.
GO        ?= go
FUZZTIME  ?= 30s
# SMOKETIME is an execution count, not a duration: a count budget cannot hit
# Go 1.26's fuzz-deadline race (see scripts/fuzz.sh). 20000 runs take 1-3 s.
SMOKETIME ?= 20000x
BENCHTIME ?= 1s
SOAKTIME  ?= 10m
PKGS      ?= ./...

.PHONY: all test vet unit allocs fuzz fuzz-smoke bench scale scale-cluster bench-cluster compare run build interop-deps soak

all: build

build:
	$(GO) build ./...

# test is what CI runs (.ci/run) and what README.md tells a newcomer to run.
test: interop-deps vet unit allocs fuzz-smoke

# interop-deps installs the third-party WAMP clients interop/ runs
# (Autobahn|Python, autobahn-js, wampy, Chromium); idempotent, needs root or sudo.
interop-deps:
	@scripts/install-interop-deps.sh

vet:
	@out="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

unit:
	$(GO) test -race -count=1 $(PKGS)

# allocs runs the allocation tests without -race (they skip under it) and
# fails if any skips or fewer exact checks ran than expected.
allocs:
	@GO=$(GO) scripts/alloc-tests.sh

# fuzz runs every fuzz target in ./fuzz for FUZZTIME each (a duration such
# as 1m, or an execution count such as 100000x).
fuzz:
	@GO=$(GO) scripts/fuzz.sh $(FUZZTIME)

# fuzz-smoke runs each fuzz target briefly; part of make test.
fuzz-smoke:
	@$(MAKE) --no-print-directory fuzz FUZZTIME=$(SMOKETIME)

# run starts the router on the default configuration: 127.0.0.1:8080,
# WebSocket (any path) and RawSocket on one port, realm "realm1", anonymous.
run:
	$(GO) run ./cmd/zwamp serve $(ARGS)

# scale holds ~19.5k sessions against one router process (the 20,000-file
# limit) and reports memory per session and one event's fan-out time.
scale:
	./bench/scale.sh

# scale-cluster holds NODES × SESSIONS sessions (default 6 × 17,000) on a
# cluster of router processes and times one event reaching all of them.
scale-cluster:
	./bench/scale-cluster.sh

# bench-cluster measures cross-node pubsub/RPC against a single node and
# against NATS's own cross-node rate (bench/README.md, "Cluster").
bench-cluster:
	./bench/cluster.sh

# compare measures zwamp against the coalescing and the write-per-message reference ceilings, pinned cores.
compare:
	./bench/compare.sh

# soak runs the daemon as a separate process under SOAKTIME of mixed load and
# fails on growth or lost messages (bench/soak; not part of make test).
# SOAKFLAGS passes more flags, e.g. SOAKFLAGS="-csv /tmp/soak.csv".
soak:
	$(GO) run ./bench/soak -duration $(SOAKTIME) $(SOAKFLAGS)

bench:
	$(GO) test -run='^$$' -bench=. -benchmem -benchtime=$(BENCHTIME) $(PKGS)
