# Two commands matter: `make run` and `make test`. Everything they need is installed here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: install browser run ui receiver test pytest lint format bench bench-identity sample-data clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(INSTALLED)

install: $(INSTALLED)

run: install
	$(BIN)/dripline run

ui: install
	$(BIN)/dripline ui

# The SendGrid event and inbound-mail receiver on DRIPLINE_RECEIVER_HOST:PORT (docs/receiver.md).
receiver: install
	$(BIN)/dripline receiver

test: install lint pytest

# The UI tests (tests/ui/) drive Debian's Chromium through Playwright; Playwright's own browser download is not
# used. A fresh CI machine, where we are root, gets it from apt.
browser:
	@test -x /usr/bin/chromium || { apt-get update && apt-get install -y chromium; }

pytest: install browser
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/sqlfluff lint dbt_project/models

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	$(BIN)/sqlfluff fix dbt_project/models

bench: install
	$(BIN)/python bench/bench.py
	$(BIN)/python bench/bench_sync.py
	$(BIN)/python bench/bench_campaigns.py
	$(BIN)/python bench/bench_receiver.py
	$(BIN)/python bench/bench_tracking.py
	$(BIN)/python bench/bench_inbox.py

# Identity quality against a seeded ground truth, with Splink as the reference (docs/identity-benchmark.md).
bench-identity: install
	$(BIN)/python -m pip install --quiet -e ".[dev,bench]"
	$(BIN)/python bench/bench_identity.py --sizes 100000,1000000

sample-data: install
	$(BIN)/python scripts/generate_sample_data.py --out sample_data/inbox

clean:
	rm -rf .dripline dbt_project/target dbt_project/logs
