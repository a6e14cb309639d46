"""The phone-key secret: configured, or created once in a private file every process shares."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from pydantic import SecretStr

from activities.config import SmsSettings
from activities.messaging.errors import (
    SmsConfigError,
)
from activities.messaging.phone_keys import load_or_create_secret_file, phone_key_secret


def test_phone_key_secret_file_is_created_once_private_and_shared(tmp_path: Path) -> None:
    path = tmp_path / "var" / "sms-phone-key.secret"
    results: list[bytes] = []
    lock = threading.Lock()

    def load() -> None:
        secret = load_or_create_secret_file(path)
        with lock:
            results.append(secret)

    threads = [threading.Thread(target=load) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1 and len(results[0]) == 32
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left
    # Through the settings: the file under data_dir by default, the configured secret first.
    assert phone_key_secret(SmsSettings(), tmp_path / "var") == results[0]
    configured = SmsSettings(phone_key_secret=SecretStr("s3cret-s3cret-s3cret"))
    assert phone_key_secret(configured, tmp_path / "var") == b"s3cret-s3cret-s3cret"
    with pytest.raises(SmsConfigError, match="16"):
        phone_key_secret(SmsSettings(phone_key_secret=SecretStr("short")), tmp_path)
    elsewhere = SmsSettings(phone_key_file=tmp_path / "k" / "key")
    assert phone_key_secret(elsewhere, tmp_path / "var") != results[0]


def test_unreadable_phone_key_secret_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.secret"
    path.write_text("not hex\n")
    with pytest.raises(SmsConfigError, match="illisible"):
        load_or_create_secret_file(path)
    path.write_text("abcd\n")
    with pytest.raises(SmsConfigError, match="trop court"):
        load_or_create_secret_file(path)
