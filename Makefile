# encombot — the two set-up commands are `make demo` and `make test`; both install first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-slow lint bench bench-backlog bench-stt bench-gazetteer bench-latency eval clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: install
	$(BIN)/encombot demo

test: install
	$(BIN)/python -m pytest -m "not slow" -q

test-slow: install
	$(BIN)/python -m pytest -m "slow" -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy domain activities workflows workers
	$(BIN)/lint-imports

bench: install
	$(BIN)/python bench/bench_voicemails.py --out var/bench.json

# A night's backlog on the real system (dev server + stt and default worker processes);
# COUNT voicemails at once (minutes to hours: not for a shared machine).
COUNT ?= 200
bench-backlog: install
	$(BIN)/python bench/bench_backlog.py --count $(COUNT) --shared $(SHARED) \
		--out var/bench-backlog.json

# Transcription configurations (int8/float32, beam, VAD, batched) on the development set.
bench-stt: install
	$(BIN)/python bench/bench_stt_configs.py --dir $(SHARED)/voicemails \
		--out var/bench-stt-configs.json

# Development set and geodata of the project (read-only, never copied into the repo).
SHARED ?= ../shared
GEO := $(SHARED)/geodata
GEO_ARGS := --ban $(GEO)/adresses-13-marseille-synthetique.csv.gz \
	--sectors $(GEO)/marseille-arrondissements-osm-20160128.geojson \
	--sectors $(GEO)/communes-metropole-aix-marseille-provence.geojson

bench-gazetteer: install
	$(BIN)/python bench/bench_gazetteer.py $(GEO_ARGS) --out var/bench-gazetteer.json

bench-latency: install
	$(BIN)/python bench/bench_turn_latency.py --calls 3 --out var/bench-turn-latency.json

eval: install
	$(BIN)/encombot eval $(SHARED)/voicemails $(GEO_ARGS) \
		--predictions var/eval/predictions.json --metrics var/eval/metrics.json

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
