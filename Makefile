# relaydesk — the README's two commands are `make run` and `make test`.
GO ?= go
FUZZTIME ?= 30000x
# The version stamped into the binary: `relaydesk version`, the User-Agent of deliveries, the UI footer.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: run test test-deps fuzz bench build vet chaos

run: ## serve on the embedded SQLite under ./data, on http://127.0.0.1:8080
	$(GO) run -ldflags "$(LDFLAGS)" ./cmd/relaydesk serve

build: ## ./relaydesk, with the version stamped in
	$(GO) build -ldflags "$(LDFLAGS)" -o relaydesk ./cmd/relaydesk

test: test-deps ## every test, with the race detector (PostgreSQL half needs a server; see README)
	$(GO) test -race -timeout 45m ./...

# The Node.js receiver example is tested against our signatures, and the Zapier app under
# Zapier's runtime against a real relaydesk (internal/zapiertest); both need their npm
# packages. The Zapier app is reinstalled whenever its lockfile is newer than its install.
test-deps:
	@[ -d docs/examples/node/node_modules ] || npm ci --prefix docs/examples/node --no-audit --no-fund --silent
	@[ integrations/zapier/node_modules/.package-lock.json -nt integrations/zapier/package-lock.json ] || npm ci --prefix integrations/zapier --no-audit --no-fund --silent

fuzz: ## each fuzz target for a short while
	$(GO) test -run '^$$' -fuzz '^FuzzVerify$$' -fuzztime $(FUZZTIME) ./webhook/
	$(GO) test -run '^$$' -fuzz '^FuzzVerifyV1a$$' -fuzztime $(FUZZTIME) ./webhook/
	$(GO) test -run '^$$' -fuzz '^FuzzParseJWKS$$' -fuzztime $(FUZZTIME) ./webhook/
	$(GO) test -run '^$$' -fuzz '^FuzzCheckURL$$' -fuzztime $(FUZZTIME) ./internal/egress/
	$(GO) test -run '^$$' -fuzz '^FuzzReader$$' -fuzztime $(FUZZTIME) ./internal/input/
	$(GO) test -run '^$$' -fuzz '^FuzzValidate$$' -fuzztime $(FUZZTIME) ./internal/event/
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeDefinition$$' -fuzztime $(FUZZTIME) ./internal/relay/

chaos: ## the full chaos run: 20,000 events, SIGKILLs, a flaky receiver, both stores (PostgreSQL restarts when root)
	RELAYDESK_CHAOS=full $(GO) test -run '^TestChaos$$' -v -count=1 -timeout 60m ./internal/chaos/

vet:
	gofmt -l . | (! grep .) && $(GO) vet ./...
