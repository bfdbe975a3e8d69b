# One entry point for users and CI. `make demo` and `make test` install everything
# they need themselves (system packages when run as root, the virtualenv always).
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORES ?= $(shell nproc)
APT_PACKAGES := graphviz slurm-wlm munge chromium dcm2niix
STAMP := $(VENV)/.installed

.PHONY: install system-packages slurm-cluster demo test test-fast report dag bench science clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(MAKE) system-packages
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# The CPU build on this disk; a plain `torch` requirement would pull CUDA wheels.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

# System tools the tests and the report use: graphviz (--dag), slurm+munge (the real
# SLURM test), chromium (opening the HTML report). Installed only where we are root;
# elsewhere the tests that need them skip and say why. (Not `dpkg -s`: it also succeeds
# for a removed package whose config files remain.)
system-packages:
	@missing=""; for p in $(APT_PACKAGES); do \
	  [ "$$(dpkg-query -W -f='$${db:Status-Status}' $$p 2>/dev/null)" = installed ] || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then echo "system packages present"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing:$$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else echo "not root: skipping system packages ($$missing); tests needing them will skip"; fi

demo: install
	$(BIN)/snakemake --profile profiles/local --cores $(CORES) all
	$(BIN)/snakemake --profile profiles/local --cores 1 --report results/demo/report.html all
	@echo "Demo done: results/demo/report.html"

# The one-node SLURM cluster the SLURM tests submit to, started once before pytest
# (the tests call the same idempotent script and find it running). Only as root with
# the packages; elsewhere those tests skip and say why.
slurm-cluster: install
	@if [ "$$(id -u)" = 0 ] && PATH=$$PATH:/usr/sbin command -v slurmctld >/dev/null; then \
	  tests/slurm/start-local-slurm.sh; \
	else echo "no local SLURM cluster (needs root and slurm-wlm): the SLURM tests will skip"; fi

test: install slurm-cluster
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/pytest -n 2 --dist loadgroup tests

test-fast: install
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/pytest -n 2 -m "not slow and not slurm" tests

dag: install
	mkdir -p results
	$(BIN)/snakemake --rulegraph dot all | dot -Tsvg > results/rulegraph.svg
	@echo "results/rulegraph.svg"

bench: install
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/cmr.py
	$(BIN)/python bench/train.py

# Does dual-phase alignment beat the baseline here? config/science.yaml (the science
# run's cohort, arms and four alignment seeds), its negative-control cohort and its
# 100-label probes, answered by the pipeline's paired bootstrap and gates
# (bench/results/science.md). A benchmark, not a test: hours of CPU (science.json).
science: install
	$(BIN)/python bench/science.py --cores $(CORES) --config config/science.yaml

clean:
	rm -rf results .snakemake
