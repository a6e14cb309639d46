"""The SMS backend the settings name."""

from __future__ import annotations

from activities.config import SmsSettings
from activities.messaging.backends import SmsBackend
from activities.messaging.outbox import OutboxBackend
from activities.messaging.ovh import OvhBackend


def build_sms_backend(sms_settings: SmsSettings) -> SmsBackend:
    if sms_settings.backend == "ovh":
        return OvhBackend(sms_settings.ovh)
    return OutboxBackend(sms_settings.outbox_path, sms_settings.inbox_path)
