# keyport. `make test` installs and starts every real component it needs.
GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
# Static, without urfave/cli's man-page generator: both cut process start-up,
# which is most of the cost of a `get`.
BUILDENV  := CGO_ENABLED=0
BUILDFLAGS := -trimpath -tags urfave_cli_no_docs -ldflags "-s -w -X github.com/keyport/keyport/credhelper.Version=$(VERSION)"
BIN       := bin

.PHONY: all build test test-go demo bench fuzz lint clean deps

all: build

build:
	$(BUILDENV) $(GO) build $(BUILDFLAGS) -o $(BIN)/ ./cmd/...

deps:
	scripts/install-deps.sh

# The whole suite, real components included, then again under -race.
test: deps build
	scripts/test.sh

demo: build
	scripts/demo.sh

bench: deps build
	scripts/bench.sh

fuzz:
	scripts/fuzz.sh 60s

lint:
	gofmt -l . | (! grep .)
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@latest ./...

clean:
	rm -rf $(BIN)
