# conductor.swarm: every entry point sets up what it needs on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV        ?= .venv
PY          := $(VENV)/bin/python
BIN         := $(VENV)/bin
LAB_HOSTS   ?= 3
LAB_MANAGERS ?= 1
COLLECTIONS := .build/collections
COLL_LINK   := $(COLLECTIONS)/ansible_collections/conductor/swarm
export DOCKER_API_VERSION ?= 1.41
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: help venv engine lab lab-destroy lab-status demo test lint galaxy unit molecule \
        molecule-one-manager molecule-three-managers bench-provision bench-deploy bench-zero-downtime bench-faults deploy-tests \
        lock lock-galaxy clean

help:
	@echo "make demo             lab up, provision a 3-node swarm, deploy the example stack, update it under traffic"
	@echo "make test             lint, Galaxy import, sanity, unit and docs tests, Molecule scenarios, lab tests"
	@echo "make lab              start LAB_HOSTS (default 3) bare hosts, write inventories/lab/hosts.yml"
	@echo "make lab-destroy      remove everything the lab created"
	@echo "make bench-provision  provisioning wall times for 3 and 5 hosts, and the no-op re-run"
	@echo "make bench-deploy     deploy to converged, ours vs docker stack deploy; broken release to rollback"
	@echo "make bench-zero-downtime  what clients behind the edge proxy see during each strategy, and baselines"
	@echo "make bench-faults     faults injected mid-deploy and while running: outcome, failed requests, recovery"

# The virtualenv, from exact pins; rebuilt when requirements.txt changes.
$(VENV)/.installed: requirements.txt
	python3 -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.txt
	touch $@

$(COLL_LINK):
	mkdir -p $(dir $@)
	ln -sfn $(CURDIR) $@

venv: $(VENV)/.installed $(COLL_LINK)

engine:
	@bash scripts/ensure-docker.sh

lab: venv engine
	$(PY) lab/labctl.py up --hosts $(LAB_HOSTS) --managers $(LAB_MANAGERS)

lab-destroy: engine
	$(PY) lab/labctl.py destroy

lab-status: engine
	$(PY) lab/labctl.py status

demo: venv engine
	$(PY) scripts/demo.py

test: venv engine
	bash tests/run-all.sh

lint: venv
	bash tests/lint.sh

# The built tarball through galaxy-importer (its own virtualenv, .build/importer-venv).
galaxy: venv
	bash tests/galaxy.sh

unit: venv
	$(BIN)/pytest -q tests/unit

molecule: venv engine
	bash tests/molecule.sh

molecule-one-manager: venv engine
	bash tests/molecule.sh one_manager

molecule-three-managers: venv engine
	bash tests/molecule.sh three_managers

deploy-tests: venv engine
	$(BIN)/pytest -v -p no:cacheprovider tests/lab

bench-provision: venv engine
	$(PY) tests/bench/provision.py

# Re-resolve the pins from requirements.in (needs the registry).
lock:
	rm -rf .build/lockenv && python3 -m venv .build/lockenv
	.build/lockenv/bin/pip install -q -r requirements.in
	.build/lockenv/bin/pip freeze --exclude-editable > requirements.txt

# Re-resolve galaxy-importer's pins from tests/galaxy/requirements.in (needs the registry).
lock-galaxy:
	rm -rf .build/lock-importer && python3 -m venv .build/lock-importer
	.build/lock-importer/bin/pip install -q -r tests/galaxy/requirements.in
	.build/lock-importer/bin/pip freeze --exclude-editable > tests/galaxy/requirements.txt

clean: lab-destroy
	rm -rf .build $(VENV)

bench-deploy: venv engine
	$(PY) tests/bench/deploy.py

bench-zero-downtime: venv engine
	$(PY) tests/bench/zero_downtime.py

bench-faults: venv engine
	$(PY) tests/bench/faults.py
