# Everyday commands. `make` (or `make help`) lists them.
# Docker targets need Docker Compose v2; native-* and test run from local binaries (scripts/setup.sh).

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# Node 24 from scripts/setup.sh (.tools/node) comes first when present.
export PATH := $(CURDIR)/.tools/node/bin:$(CURDIR)/.tools/bin:$(PATH)

COMPOSE ?= docker compose
COMPOSE_PROD := $(COMPOSE) -f docker-compose.yml -f docker-compose.prod.yml
N ?= 3
API ?= 2
WORKERS ?= 1
SCENARIO ?= smoke
PURGE ?= 0
# make chaos: seconds of load while faults are injected (the short run in make test: test/chaos/chaos.test.ts).
CHAOS_SECONDS ?= 600
OBSERVABILITY ?= 0
TEST_REPORTS := test-results/vitest-native.json test-results/vitest-containers.json test-results/vitest-swarm.json \
  test-results/vitest-swarm-nodes.json
# The native stack (tools/stack/native): Node 24 runs its TypeScript directly.
NATIVE := node tools/stack/native/cli.ts

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-z][a-z0-9_-]*:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  \033[1m%-16s\033[0m %s\n", $$1, $$2}'

# --- Docker Compose --------------------------------------------------------------------------------------------------

.PHONY: up
up: ## Build the images and start the stack; waits for every health check, then prints the URL (OBSERVABILITY=1: and Prometheus, Grafana)
	$(COMPOSE) $(if $(filter 1,$(OBSERVABILITY)),--profile observability) up --build --detach --wait
	@echo "Stack is healthy: http://localhost:$${NGINX_HOST_PORT:-8080} (docs: /docs)"

.PHONY: up-observability
up-observability: ## make up with the observability profile: Prometheus :9090, the exporters, Grafana :3000 (observability/)
	$(MAKE) --no-print-directory up OBSERVABILITY=1
	@echo "Prometheus: http://localhost:$${PROMETHEUS_HOST_PORT:-9090}  Grafana: http://localhost:$${GRAFANA_HOST_PORT:-3000}"

.PHONY: down
down: ## Stop the stack (volumes are kept; `docker compose down -v` drops them)
	$(COMPOSE) down

.PHONY: logs
logs: ## Follow the logs of every service
	$(COMPOSE) logs --follow --tail=100

.PHONY: ps
ps: ## Services and their health
	$(COMPOSE) ps

.PHONY: scale
scale: ## Run N api replicas (default 3); nginx follows them without a reload
	$(COMPOSE) up --detach --wait --no-recreate --scale api=$(N)

.PHONY: migrate
migrate: ## Apply pending db/init migrations to the running database (idempotent, safe concurrently)
	$(COMPOSE) run --rm migrate

.PHONY: seed
seed: ## Write deterministic demo data and the dev tokens of .env.example (refuses a database with users unless SEED_RESET=true)
	$(COMPOSE) run --rm seed

.PHONY: loadtest
loadtest: ## k6 in a container against nginx (SCENARIO=smoke|load|stress|spike|soak); thresholds set the exit code
	SCENARIO=$(SCENARIO) bash scripts/loadtest.sh

.PHONY: prod-config
prod-config: ## Render the production profile (base + prod overlay)
	$(COMPOSE_PROD) config

# --- Docker Swarm (docker-stack.yml; docs/swarm.md) ----------------------------------------------------------------

STACK ?= nodestack
# `never` for images that exist only on this node (no registry to ask for their digest).
RESOLVE_IMAGE ?= always
# Configs are immutable: their names carry a hash of their files, so a changed file is a new config (and a rolling
# update of the services that mount it) instead of a refused deploy.
STACK_CONFIG_FILES := nginx/nginx.conf nginx/snippets/problem-pages.conf nginx/docker/upstream.conf \
  nginx/docker/listen.conf swarm/schema-gate.mjs db/docker-init/roles.sh db/roles.sql pgbouncer/docker/pgbouncer.ini \
  pgbouncer/pooling.ini pgbouncer/docker/start.sh
# docker-stack.yml and PgBouncer with the database roles (pgbouncer/docker-stack.yml), merged by the deploy.
STACK_FILES := -c docker-stack.yml -c pgbouncer/docker-stack.yml

.PHONY: stack-deploy
stack-deploy: ## Deploy or update the Swarm stack STACK (default nodestack); waits until every service converged
	STACK=$(STACK) bash scripts/stack-secrets.sh
	STACK=$(STACK) CONFIG_VERSION=$$(cat $(STACK_CONFIG_FILES) | sha256sum | cut -c1-12) \
	  docker stack deploy --detach=false --prune --resolve-image $(RESOLVE_IMAGE) $(STACK_FILES) $(STACK)

.PHONY: stack-rm
stack-rm: ## Remove the Swarm stack STACK (volumes and secrets are kept)
	docker stack rm --detach=false $(STACK)

# --- Native mode (no Docker) -----------------------------------------------------------------------------------------

.PHONY: node24
node24:
	@node -e 'process.exit(Number(process.versions.node.split(".")[0]) === 24 ? 0 : 1)' || \
	  { echo "Node 24 not found (looked in .tools/node/bin and PATH): run make setup" >&2; exit 1; }

.PHONY: setup
setup: ## Install what the tests need: Debian packages, Node 24, npm ci, vegeta, schemathesis, compose, a Docker engine
	bash scripts/setup.sh
	bash scripts/setup-pgbouncer.sh
	bash scripts/setup-loadgen.sh
	bash scripts/setup-fuzz.sh
	bash scripts/setup-compose.sh
	bash scripts/setup-docker.sh install
	bash scripts/setup-registry.sh

.PHONY: native-up
native-up: node24 ## Run the topology as local processes: make native-up API=3 WORKERS=1 [OBSERVABILITY=1: Prometheus too]
	API=$(API) WORKERS=$(WORKERS) $(NATIVE) up
	if [[ "$(OBSERVABILITY)" == 1 ]]; then node tools/stack/native/observability.ts up; fi

.PHONY: native-down
native-down: node24 ## Stop exactly the processes native-up started (PURGE=1 also deletes .native and its data)
	node tools/stack/native/observability.ts down
	NATIVE_PURGE=$(PURGE) $(NATIVE) down

.PHONY: native-status
native-status: node24 ## Each native process and whether it is alive
	$(NATIVE) status

.PHONY: native-migrate
native-migrate: node24 ## Apply migrations to the native stack's database
	$(NATIVE) run node core/dist/cli/migrate.js

.PHONY: native-seed
native-seed: node24 ## Re-seed the native stack (SEED_PRODUCTS=1000000 for the benchmark's size)
	$(NATIVE) run env SEED_RESET=true node core/dist/cli/seed.js

.PHONY: loadtest-native
loadtest-native: ## The same workload against the native stack with vegeta/wrk (SCENARIO=...)
	SCENARIO=$(SCENARIO) bash scripts/loadtest-native.sh

.PHONY: chaos
chaos: node24 ## Faults under load on a native stack of its own, then invariants (CHAOS_SECONDS [600]; docs/chaos.md)
	CHAOS_SECONDS=$(CHAOS_SECONDS) node tools/chaos/run.ts

.PHONY: bench
bench: ## Benchmark the stack against its references in one run; writes bench/results/latest.{json,md}
	bash scripts/bench/bench.sh

# --- Code -----------------------------------------------------------------------------------------------------------

.PHONY: build
build: ## Compile TypeScript (tsc -b) into */dist
	npm run build

.PHONY: typecheck
typecheck: ## Type-check sources, tests, and the load-test and benchmark tooling
	npx tsc -b
	npx tsc -p tsconfig.test.json --noEmit
	npx tsc -p tools

.PHONY: lint
lint: ## eslint and prettier --check
	npx eslint .
	npx prettier --check .

.PHONY: format
format: ## prettier --write
	npx prettier --write .

.PHONY: check-static
check-static: ## Compose files (dclint, docker compose config) and nginx -t in both layouts
	bash scripts/check-static.sh

.PHONY: test
test: ## Everything: lint, typecheck, static checks, then every test on a native stack and on a Docker engine
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory typecheck
	$(MAKE) --no-print-directory build
	bash scripts/setup-docker.sh start
	rm -f test-results/vitest-*.json
	@# One stack at a time: each project's global set-up starts its own stack, and three stacks at once on two
	@# cores made timing-bound tests flaky. Every run goes on after a failure; the exit code is the worst.
	status=0; \
	npx vitest run --project unit --project native --outputFile.json=test-results/vitest-native.json || status=1; \
	npx vitest run --project containers --outputFile.json=test-results/vitest-containers.json || status=1; \
	npx vitest run --project swarm --outputFile.json=test-results/vitest-swarm.json || status=1; \
	npx vitest run --project swarm-nodes --outputFile.json=test-results/vitest-swarm-nodes.json || status=1; \
	node scripts/test-summary.mjs $(TEST_REPORTS) || status=1; \
	exit $$status

.PHONY: test-summary
test-summary: ## The summary line of the last make test (N passed, N failed, N skipped), from vitest's JSON reports
	@node scripts/test-summary.mjs $(TEST_REPORTS)

.PHONY: test-unit
test-unit: ## Only the tests that need no running stack (config, parsers, signatures, static checks of compose and nginx)
	npx vitest run --project unit

.PHONY: test-containers
test-containers: ## Only the container tests (make up, scale, prod profile, and the shared scenarios) on a Docker engine
	bash scripts/setup-docker.sh start
	npx vitest run --project containers

.PHONY: test-swarm
test-swarm: ## Only the swarm tests: make stack-deploy on a single-node swarm (swarm mode is turned on for the run)
	bash scripts/setup-docker.sh start
	npx vitest run --project swarm

.PHONY: test-swarm-nodes
test-swarm-nodes: ## Only the multi-node swarm test: three engines in network namespaces, a local registry, a drain
	bash scripts/setup-docker.sh start
	npx vitest run --project swarm-nodes
