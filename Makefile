# pg-retention. Every target provides its own Node.js >= 22: the system's when it is
# new enough, else Node 24 from the npm registry's `node` package in .tools/ (git-ignored).
SHELL := /bin/bash
# npm and Node trust the system's CA bundle (the registry may be reached through a TLS proxy).
ifneq ($(wildcard /etc/ssl/certs/ca-certificates.crt),)
export NODE_EXTRA_CA_CERTS ?= /etc/ssl/certs/ca-certificates.crt
endif
NODE_MIN_MAJOR := 22
TOOLS := $(CURDIR)/.tools
SYS_NODE_MAJOR := $(shell node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
ifeq ($(shell [ $(SYS_NODE_MAJOR) -ge $(NODE_MIN_MAJOR) ] && echo ok),ok)
NODE_STAMP :=
else
NODE_STAMP := $(TOOLS)/node/node_modules/node/bin/node
export PATH := $(TOOLS)/node/node_modules/node/bin:$(PATH)
endif
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
DEPS := node_modules/.install-stamp

.PHONY: all demo demo-stop bench bench-shapes bench-archive-floor build test lint typecheck migrate clean help report-screenshot
all: help

help:
	@echo "make demo       run the demo on the embedded PostgreSQL (the main job)"
	@echo "make test       run the test suite on real PostgreSQL"
	@echo "make lint       eslint"
	@echo "make typecheck  tsc --noEmit"
	@echo "make build      the runner compiled to JavaScript in dist/ (what the container runs)"
	@echo "make migrate    apply the schema to DATABASE_URL"
	@echo "make bench      pg-retention vs one DELETE, app-side batches, partition drops (BENCH_ROWS, default 2M)"
	@echo "make bench-shapes  the same on tables of other shapes: cheap rows, wide UUID rows, a date column"
	@echo "make bench-archive-floor  what copying a batch's rows costs in its transaction, in every form (issue 15)"
	@echo "make report-screenshot  docs/images/compliance-report.png from the demo's report (needs chromium)"

$(TOOLS)/node/node_modules/node/bin/node:
	@echo "system Node is $(SYS_NODE_MAJOR); installing Node 24 into .tools/node"
	npm install --prefix $(TOOLS)/node --no-save --no-package-lock --loglevel=error node@24
	@$@ --version

$(DEPS): package.json package-lock.json $(NODE_STAMP)
	npm ci --loglevel=error
	@touch $@

demo: $(DEPS)
	node examples/demo.ts

test: $(DEPS)
	vitest run

lint: $(DEPS)
	eslint .

typecheck: $(DEPS)
	tsc -p tsconfig.json

migrate: $(DEPS)
	node runner/cli.ts migrate

clean:
	rm -rf node_modules .tools .demo-data .test-data dist

demo-stop: $(DEPS)
	node -e "import('./runner/embedded.ts').then(m => m.pgCtl('$(CURDIR)/.demo-data/pg', ['stop', '-m', 'fast'])).then(r => console.log(r.output.trim()))"

# The runner as the container runs it: JavaScript in dist/runner, beside links to the SQL,
# the migrations and package.json it reads (node_modules is found above dist/).
build: $(DEPS)
	rm -rf dist
	tsc -p tsconfig.build.json
	for f in sql migrations package.json; do ln -s ../$$f dist/$$f; done

# The worker it measures is the compiled one (make build), as the container runs it.
bench: build
	node bench/compare.ts

bench-shapes: build
	node bench/shapes.ts

bench-archive-floor: $(DEPS)
	node bench/archive-floor.ts

# The compliance guide's picture of the HTML report, taken by the browser test.
report-screenshot: $(DEPS)
	RETENTION_REQUIRE_CHROMIUM=1 RETENTION_REPORT_SCREENSHOT=docs/images/compliance-report.png vitest run test/compliance-report.test.ts -t 'real browser'
