# pathsleuth: two commands do all set-up on a fresh Debian machine with Python 3.11:
#   make demo   -- create .venv, install, diagnose the bundled example
#   make test   -- install what the tests need (system packages too when root), run ruff, mypy, pytest
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Debian packages the lab, the differential tests and the benchmarks use
SYSTEM_PACKAGES := tshark tcpdump nftables iptables ethtool iproute2 postfix procps
FUZZ_SECONDS ?= 20

.PHONY: demo test lint typecheck pytest bench fuzz system-deps clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,lab,bench,fuzz]'
	touch $(STAMP)

# exit status 1 means "an error-severity problem was found", which is the point of the demo
demo: $(STAMP)
	@echo "== pathsleuth analyze: a lab capture of a PMTU black hole, joined with its Postfix log"
	$(VENV)/bin/pathsleuth analyze examples/blackhole/client.pcapng --log examples/blackhole/postfix.log || [ $$? -eq 1 ]
	@echo
	@echo "== pathsleuth logs: the GroupWise GWIA excerpts of the seed case"
	$(VENV)/bin/pathsleuth logs examples/gwia/0518gwia.001 || [ $$? -eq 1 ]

system-deps:
	@if [ "$$(id -u)" = 0 ]; then \
	  missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	  if [ -n "$$missing" ]; then \
	    echo "installing system packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  fi; \
	  systemctl disable --now postfix >/dev/null 2>&1 || true; \
	else echo "not root: skipping system packages (needs_root tests will be skipped)"; fi

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench fuzz
	$(VENV)/bin/ruff format --check src tests bench fuzz

typecheck: $(STAMP)
	$(VENV)/bin/mypy

pytest: $(STAMP)
	$(VENV)/bin/pytest

test: system-deps $(STAMP) lint typecheck fuzz-smoke pytest

fuzz-smoke: $(STAMP)
	$(PY) fuzz/run_all.py --seconds 3

fuzz: $(STAMP)
	$(PY) fuzz/run_all.py --seconds $(FUZZ_SECONDS)

bench: system-deps $(STAMP)
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
