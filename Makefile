# `make test` is the one command that runs every test: it installs the
# pinned test servers (DynamoDB Local, from npm) when the lockfile changed,
# then runs the whole Go suite with those servers required, not optional.

SERVERS := tests/servers
STAMP   := $(SERVERS)/node_modules/.installed

.PHONY: test serve build
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
