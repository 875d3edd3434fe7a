# `make test` is the one command that runs every test: it installs the
# pinned test servers (DynamoDB Local, from npm) when the lockfile changed,
# then runs the whole Go suite with those servers required, not optional.

SERVERS := tests/servers
STAMP   := $(SERVERS)/node_modules/.installed

.PHONY: test serve build mutation
test: export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION = 20
test: $(STAMP)
	REQUIRE_TEST_SERVERS=1 go test -count=1 -v ./...

$(STAMP): $(SERVERS)/package.json $(SERVERS)/package-lock.json
	cd $(SERVERS) && npm ci --ignore-scripts --no-audit --no-fund
	touch $@

serve:
	go run ./cmd/rescale-local serve

build:
	go build -o bin/ ./cmd/...

# `make mutation` measures the tests: gremlins (pinned, fetched through the
# Go module proxy by `go run`) makes one-line breaking changes (mutants) to
# each core package and runs that package's own tests against each; the
# efficacy is the share of covered mutants some test caught. Not part of
# `make test`: it takes minutes per package. It runs at the lowest CPU
# priority, one package at a time, the store tests on bbolt only
# (enginetest.OnlyEnv: a JVM per mutant would dominate the run), and with
# the test cache off: gremlins times each mutant's run against the first,
# coverage run, which a cached result makes instant. Full
# reports, listing every mutant that lived, go to $(MUTATION_OUT).
# Copy the summary into README.md's "Mutation testing" table.
GREMLINS      := go run github.com/go-gremlins/gremlins/cmd/gremlins@v0.6.0
# shared/worker is left out on purpose: its mutants signal processes, and
# one (a flipped comparison in proc_linux.go's process-group listing) sends
# SIGTERM and SIGKILL to every process the user may signal, not just the
# test's. Measure it only in a throwaway container, as an unprivileged
# user: `make mutation MUTATION_PKGS=shared/worker`.
MUTATION_PKGS ?= shared/httpapi shared/accounts shared/files shared/jobs \
                 shared/lifecycle shared/asl shared/compute/localexec
MUTATION_OUT  ?= bin/mutation

mutation:
	@mkdir -p $(MUTATION_OUT)
	@for p in $(MUTATION_PKGS); do \
		out=$(MUTATION_OUT)/$$(echo $$p | tr / _).txt; \
		GOFLAGS=-count=1 ENGINETEST_ONLY=bolt nice -n 19 $(GREMLINS) unleash --timeout-coefficient 10 ./$$p > $$out 2>&1; \
		printf '%-26s %s\n' "$$p" "$$(grep -E '^(Killed|Timed out|Test efficacy|Mutator coverage)' $$out | tr '\n' ' ')"; \
	done
