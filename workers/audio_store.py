"""The audio store of a process, built from the settings (activities/audio_store/): the local
directory, or the object store with the payload codec's keys (the same keys every role has)."""

from __future__ import annotations

from activities.audio_store import AudioStore
from activities.audio_store.local import LocalAudioStore
from workers.settings import Settings


def build_audio_store(settings: Settings) -> AudioStore:
    cfg = settings.audio_store
    if cfg.backend == "local":
        return LocalAudioStore(settings.audio_dir)
    from minio import Minio

    from activities.audio_store.s3 import S3AudioStore
    from workers.codec.payload import codec_from_settings

    if not cfg.s3_endpoint:
        raise ValueError("ENCOMBOT_AUDIO_STORE__S3_ENDPOINT est vide (backend s3)")
    codec = codec_from_settings(settings)
    client = Minio(
        cfg.s3_endpoint,
        access_key=cfg.s3_access_key.get_secret_value(),
        secret_key=cfg.s3_secret_key.get_secret_value(),
        secure=cfg.s3_secure,
        region=cfg.s3_region or None,
    )
    return S3AudioStore(
        client,
        cfg.s3_bucket,
        codec.keys,
        codec.active_key_id,
        cache_dir=settings.data_dir / "cache" / "audio",
        max_bytes=cfg.max_bytes,
    )
