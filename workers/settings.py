"""The single configuration object. Built once in `main()` and passed down; never imported as a
singleton. Environment variables use the prefix `ENCOMBOT_` and `__` for nesting, e.g.
`ENCOMBOT_STT__MODEL_PATH=/models/whisper-small-ct2` or `ENCOMBOT_SMS__BACKEND=ovh`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from activities.config import (
    DEFAULT_DATA_DIR,
    AgentSettings,
    AudioStoreSettings,
    BookingSettings,
    FaqSettings,
    GeoSettings,
    RetentionSettings,
    RouteSheetSettings,
    SmsSettings,
    SttSettings,
)
from corpus import TEMPLATES_DIR
from domain.net_policy import parse_networks


class TemporalSettings(BaseModel):
    address: str = "localhost:7233"
    namespace: str = "default"
    task_queue: str = "encombot"
    # CPU-heavy transcription has its own queue so it can scale on its own hosts.
    stt_task_queue: str = "encombot-stt"
    ui_url: str = "http://localhost:8233"


class CodecServerSettings(BaseModel):
    """`encombot codec-server`: lets the Temporal UI (and CLI) decode payloads for agents."""

    host: str = "127.0.0.1"
    port: int = 8234
    # Required (the server refuses to start without it) unless `dev_mode`: the proxy in front
    # of the UI injects it (deploy/caddy/Caddyfile), the CLI sends it with
    # `--codec-auth "Bearer …"`.
    token: SecretStr = SecretStr("")
    # Loopback demo and tests only: no token asked.
    dev_mode: bool = False
    # Origins of the Temporal UI, whose pages call the codec server from the browser; any
    # other Origin is refused (403).
    cors_origins: list[str] = Field(
        default_factory=lambda: ["http://localhost:8233", "http://127.0.0.1:8233"]
    )
    # Host names answered (port ignored; 421 otherwise): the UI's public name behind a proxy
    # that keeps the Host header.
    allowed_hosts: list[str] = Field(default_factory=lambda: ["127.0.0.1", "localhost", "::1"])
    # /encode lets whoever holds the token forge ciphertext: off unless needed.
    enable_encode: bool = False
    # Migration from clear-text histories: /decode passes unencrypted payloads through.
    allow_unencrypted: bool = False


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
    # The legacy `v1=` signature (timestamp + body, replayable across endpoints): only while a
    # sender is being moved to `v2=`.
    accept_v1_signatures: bool = False
    # Where the replay cache (signatures already accepted) lives, shared by every replica;
    # empty: the booking database (`booking.database_url`).
    replay_cache_url: str = ""
    # The whole body must arrive within this (a slow drip holds a connection and a slot).
    body_read_timeout_s: float = Field(default=60.0, gt=0)
    # Request bodies read at the same time; beyond, 503 with Retry-After.
    max_concurrent_uploads: int = Field(default=8, ge=1)
    # GET /calls/{call_id} per client: sustained rate and burst (each unknown id costs Temporal
    # visibility queries). 429 beyond.
    calls_rate_per_s: float = Field(default=1.0, gt=0)
    calls_burst: int = Field(default=20, ge=1)
    # The call index (table `ingress_calls`: call id -> the workflow holding it) keeps a row
    # this long; longer than a case stays open plus the namespace's retention.
    call_index_days: int = Field(default=60, ge=1)
    # Migration only: also look a call up through a visibility List query when the index does
    # not know it (calls accepted before the index existed). Each unknown id then costs one.
    calls_visibility_fallback: bool = False
    # Peers (IPs or CIDRs: the reverse proxy) whose X-Forwarded-For names the client.
    forwarded_allow_ips: list[str] = Field(default_factory=list)
    # Largest request body: a voicemail upload (5 min of 16 kHz 16-bit WAV is ~9.6 MB).
    max_body_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)
    # Largest body of the JSON endpoints.
    max_json_bytes: int = Field(default=64 * 1024, ge=1024)
    # Hosts (host, or host:port to allow that one port) the server may fetch a voicemail's
    # `audio_url` from; empty: no URL is fetched, uploads only. Redirects are never followed
    # (workers/ingress/audio_url.py).
    audio_url_hosts: list[str] = Field(default_factory=list)
    # "https"; "http" only for a PBX on the same private network (and the tests).
    audio_url_schemes: list[str] = Field(default_factory=lambda: ["https"])
    # Ports allowed for a host listed without one.
    audio_url_ports: list[int] = Field(default_factory=lambda: [443])
    # Networks (CIDR) a host may resolve to although not public: the PBX's own address on
    # premises, e.g. ["10.20.0.5/32"]. Loopback, private, link-local, multicast and reserved
    # addresses (and their IPv6-mapped, 6to4 and NAT64 forms) are refused otherwise.
    audio_url_allow_networks: list[str] = Field(default_factory=list)
    # CA bundle (PEM) the `audio_url` host's certificate must chain to, e.g. an internal CA's
    # on premises; empty: the public CAs (certifi).
    audio_url_ca_file: Path | None = None
    # The whole download (resolution, connection, every byte) must end within this.
    audio_fetch_timeout_s: float = Field(default=20.0, gt=0)
    # Missed calls: how long the caller has to reply to the invitation SMS before a person
    # calls back, and how long a settled case still gathers the number's further calls.
    missed_call_reply_timeout_s: int = Field(default=2 * 3600, ge=60)
    missed_call_merge_window_s: int = Field(default=15 * 60, ge=0)

    @model_validator(mode="after")
    def _audio_url_policy(self) -> IngressSettings:
        if not {s.lower() for s in self.audio_url_schemes} <= {"http", "https"}:
            raise ValueError("ingress.audio_url_schemes: http and/or https only")
        if any(not 1 <= p <= 65535 for p in self.audio_url_ports):
            raise ValueError("ingress.audio_url_ports: 1-65535")
        parse_networks(self.audio_url_allow_networks)  # ValueError names the bad one
        return self


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
    # Text to speech (activities/speech/tts.py): engine "espeak-ng" (PyPI wheel) or "espeak-ng-cli"
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
    # An answer to the items question whose words name no item is heard again with this beam
    # before the item vote: item names come out garbled on the phone, and beam 5 hears more of
    # them (README, Live calls: measured on the call set's answers and on other voices'). Equal
    # to stt_beam_size: not heard again.
    stt_items_beam_size: int = Field(default=5, ge=1, le=10)
    # A turn is encoded with this much silence after it instead of Whisper's 30-s window
    # (activities/live/window.py: the encoder is most of a turn's transcription). 0: the
    # 30-s window, kept: with Whisper base the words were no better on voices never tuned
    # on, the semantic rule lost its « … » cue, and under 6 s short turns loop (README,
    # "The shorter window again").
    stt_window_pad_s: float = Field(default=0.0, ge=0.0, le=30.0)
    # After this much quiet (less than the end pause), the turn so far is transcribed while
    # the pause runs out; kept if the pause is confirmed, dropped if the caller goes on
    # (activities/live/turns.py). 0: transcribe only once the turn has ended.
    speculate_ms: int = Field(default=250, ge=0, le=5000)
    # End of turn: "fixed" (the pauses above) or "semantic" (the transcript of the pause says
    # whether the caller is done: answer at once, or wait up to incomplete_pause_ms after
    # "au…", "rue…", "euh…"; domain/turn_end.py). Needs speculate_ms. Or "smart": Smart Turn
    # v3.2 (the pipecat-ai wheel's ONNX model, requirements/models.lock) scores the audio
    # smart_ask_ms into each pause; at smart_threshold or above the turn ends there, below it
    # the pause runs to incomplete_pause_ms (domain/turn_detector.py).
    turn_rule: Literal["fixed", "semantic", "smart"] = "fixed"
    incomplete_pause_ms: int = Field(default=2000, ge=200, le=10000)
    smart_ask_ms: int = Field(default=200, ge=20, le=2000)
    smart_threshold: float = Field(default=0.85, gt=0, lt=1)
    # "smart": the model ends address answers (and numbers said) too. Off: their own pause
    # does (ADDRESS_PAUSE_MS), as under the fixed rule; Smart Turn took the pause between a
    # street and its postcode for an end in 26 of 37 address answers of the call set.
    smart_at_address: bool = False
    # A caller who speaks again this soon after the end of their turn, and before they could
    # react to the bot's reply (0.3 s after its first prompt, « un instant » included, was
    # queued), was not done: the two are heard as one turn, and what the bot made of the first
    # is taken back (activities/live/runner.py). Whatever the end-of-turn rule. 0: off.
    resume_ms: int = Field(default=1000, ge=0, le=5000)
    # Nothing said this long after the end of a spoken turn (Whisper on 2 cores takes about
    # 0.7 s a turn): the bot acknowledges it (« Un instant. », « Je note. », « D'accord. »,
    # activities/live/runner.py: ACKS) and the answer follows. 0: silence until the answer.
    ack_ms: int = Field(default=0, ge=0, le=5000)
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
    # What the network may do (issue 18; README "Live calls", "Robustness"). AudioSocket has
    # no authentication: only `audiosocket_peers` may connect to it and to the route server
    # (addresses, CIDRs or host names, e.g. the compose service `asterisk`; empty: anyone who
    # reaches the port), at most `audiosocket_max_calls` calls at once, new ones at
    # `audiosocket_calls_per_s` (bursts of `audiosocket_burst`); a call past a cap goes to the
    # agents.
    audiosocket_peers: list[str] = Field(default_factory=list)
    audiosocket_max_calls: int = Field(default=40, ge=1)
    audiosocket_calls_per_s: float = Field(default=5.0, gt=0)
    audiosocket_burst: int = Field(default=20, ge=1)
    # The SIP adapter (workers/telephony/sip/policy.py): networks an SDP may point the bot's
    # RTP at; an answered INVITE not ACKed within `sip_ack_timeout_s` is ended; per source
    # address: new calls per second (and burst), calls ringing or unconfirmed at once,
    # datagrams per second (and burst). A trunk brings every call from one address: raise
    # them for it. `rtp_symmetric`: media also from the SDP's or the SIP peer's IP at another
    # port (callers behind NAT), latched on the first packet.
    sip_media_networks: list[str] = Field(
        default_factory=lambda: [
            "127.0.0.0/8",
            "::1/128",
            "10.0.0.0/8",
            "172.16.0.0/12",
            "192.168.0.0/16",
            "fc00::/7",
        ]
    )
    sip_ack_timeout_s: float = Field(default=8.0, gt=0, le=32)
    sip_invite_rate_per_s: float = Field(default=1.0, gt=0)
    sip_invite_burst: int = Field(default=10, ge=1)
    sip_max_unconfirmed_per_source: int = Field(default=8, ge=1)
    sip_packet_rate_per_s: float = Field(default=100.0, gt=0)
    sip_packet_burst: int = Field(default=200, ge=1)
    rtp_symmetric: bool = False


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ENCOMBOT_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    data_dir: Path = DEFAULT_DATA_DIR
    audio_dir: Path = DEFAULT_DATA_DIR / "audio"
    audio_store: AudioStoreSettings = Field(default_factory=AudioStoreSettings)
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
    agents: AgentSettings = Field(default_factory=AgentSettings)
    route_sheets: RouteSheetSettings = Field(default_factory=RouteSheetSettings)
    # `json`: one JSON object per line with the workflow/run/activity ids (workers/logs.py);
    # `text` for a terminal.
    log_format: Literal["text", "json"] = "text"
    # The métropole's own files (calendar, catalogue, FAQ, message templates), mounted rather
    # than baked into the image: workers/site_config.py.
    config_dir: Path | None = None
    # Message templates (sms/, voice/): the packaged ones unless config_dir has templates/.
    templates_dir: Path = TEMPLATES_DIR
    # Refuse to start on the demo's placeholders and packaged examples (site_config.py).
    production: bool = False

    @model_validator(mode="after")
    def _site_files(self) -> Settings:
        from workers.site_config import apply_config_dir

        apply_config_dir(self)
        return self
