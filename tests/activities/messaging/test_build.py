"""The backend the settings name."""

from __future__ import annotations

from pathlib import Path

import pytest

from activities.config import SmsSettings
from activities.messaging.build import build_sms_backend
from activities.messaging.errors import (
    SmsConfigError,
)
from activities.messaging.outbox import OutboxBackend
from activities.messaging.ovh import OvhBackend
from tests.fakes.fake_ovh import FakeOvhApi


def test_build_sms_backend(fake_ovh: FakeOvhApi, tmp_path: Path) -> None:
    outbox = build_sms_backend(SmsSettings(outbox_path=tmp_path / "o.jsonl"))
    assert isinstance(outbox, OutboxBackend) and outbox.path == tmp_path / "o.jsonl"
    backend = build_sms_backend(SmsSettings(backend="ovh", ovh=fake_ovh.settings()))
    assert isinstance(backend, OvhBackend)
    with pytest.raises(SmsConfigError):
        build_sms_backend(SmsSettings(backend="ovh"))  # no credentials
    with pytest.raises(SmsConfigError):
        build_sms_backend(SmsSettings(backend="ovh", ovh=fake_ovh.settings(service_name="")))
