# Two commands for a fresh machine: `make run` starts the whole system, `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# The fault suite (tests/faults), run by `make test` alongside the rest and by `make faults` alone.
FAULT_SUITE := $(VENV)/bin/pytest -q -s -m faults tests/faults

.PHONY: install run test faults lint unit contracts bench postgres promtool clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# PostgreSQL is started before sessions and CI; start it when it is found down.
postgres:
	@pg_isready -q -h 127.0.0.1 -p 5432 || { pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start && sleep 2; }
	@pg_isready -h 127.0.0.1 -p 5432

# promtool (Debian's prometheus package) checks and unit-tests the alert rules under deploy/.
promtool:
	@command -v promtool >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# The fault suite mostly waits (group joins, a thirty-second database outage, a broker restarted), so
# it runs alongside the main suite, its output in var/faults.log, printed when both are done;
# `make test` fails when either fails. Each suite runs in a process group of its own (`set -m`), so
# Ctrl-C or a TERM to make stops both at once, each tearing down what it started.
test: install postgres promtool lint
	$(PY) -m contracts.generate --check
	$(PY) -m deploy.dashboards --check
	@mkdir -p var
	@set -m; \
	$(FAULT_SUITE) </dev/null >var/faults.log 2>&1 & faults=$$!; \
	echo "the fault suite (tests/faults) runs alongside, into var/faults.log"; \
	$(VENV)/bin/pytest -q -m "not faults" </dev/null & main=$$!; \
	set +m; \
	trap 'kill -INT -$$main -$$faults 2>/dev/null' INT TERM; \
	wait $$main; main_status=$$?; while kill -0 $$main 2>/dev/null; do wait $$main; main_status=$$?; done; \
	echo "waiting for the fault suite"; \
	wait $$faults; faults_status=$$?; while kill -0 $$faults 2>/dev/null; do wait $$faults; faults_status=$$?; done; \
	echo "---- the fault suite (var/faults.log):"; cat var/faults.log; \
	exit $$(( main_status || faults_status ))

# The fault suite (tests/faults): services as processes, killed, cut off from PostgreSQL, their broker
# restarted empty; outcomes counted. Part of `make test`; on its own here.
faults: install postgres
	$(FAULT_SUITE)

unit: install
	$(VENV)/bin/pytest -q -m "not integration and not e2e and not faults"

contracts: install
	$(PY) -m contracts.generate

run: install
	$(PY) -m deploy.embedded

bench: install postgres
	$(PY) bench/run.py

clean:
	rm -rf var
