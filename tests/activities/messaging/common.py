"""What the SMS tests share: a confirmation SMS, the activity on a backend, Temporal's retry
loop without the backoff, and a backend that fails like a timeout."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.sms import SmsActivities
from corpus import TEMPLATES_DIR
from domain.models import NotifyInput, NotifyResult
from domain.sms_models import SmsDeliveryInput, SmsDeliveryResult

SMS_TEMPLATES = TEMPLATES_DIR / "sms"
SERVICE = "Encombrants Métropole"
AGENT = "0 800 94 94 94"
MOBILE = "+33612345678"

# Long but realistic: the longest weekday + month label, a long Marseille address, two kinds of
# items, a refused item.
CONFIRMATION: dict[str, object] = {
    "reference": "AC3D4F",
    "pickup_date_label": "mercredi 30 septembre",
    "address_label": "134 avenue de la Capelette, 13010 Marseille",
    "items_label": "2 réfrigérateurs, 1 canapé",
    "refused_label": "4 pneus",
    "refused_destination": "une déchèterie",
    "cancel_hint": "Pour annuler, répondez ANNULER.",
}


def make_activities(backend: Any, tmp_path: Path, **kwargs: Any) -> SmsActivities:
    """The SMS activity with a ledger of its own (a SQLite file under `tmp_path`). No settle
    delay after an ambiguous failure unless asked (`settle_s`): `run_with_retries` has no
    backoff to wait it out."""
    kwargs.setdefault("settle_s", 0.0)
    return SmsActivities(
        backend, SMS_TEMPLATES, tmp_path / "ledger.sqlite", SERVICE, AGENT, **kwargs
    )


def confirmation(key: str = "voicemail-42:confirmation", to: str = MOBILE) -> NotifyInput:
    return NotifyInput(idempotency_key=key, to=to, template="confirmation", context=CONFIRMATION)


def run(activities: SmsActivities, inp: NotifyInput) -> NotifyResult:
    return ActivityEnvironment().run(activities.send_sms, inp)


def run_with_retries(
    activities: SmsActivities, inp: NotifyInput, max_attempts: int = 10
) -> tuple[NotifyResult, list[BaseException]]:
    """Temporal's retry loop, minus the backoff: retry on any error except a non-retryable
    ApplicationError. Returns the result and the errors of the failed attempts."""
    errors: list[BaseException] = []
    for _ in range(max_attempts):
        try:
            return run(activities, inp), errors
        except ApplicationError as err:
            if err.non_retryable:
                raise
            errors.append(err)
        except Exception as err:
            errors.append(err)
    raise AssertionError(f"still failing after {max_attempts} attempts: {errors}")


def expect_application_error(fn: Callable[[], object], error_type: str) -> ApplicationError:
    with pytest.raises(ApplicationError) as info:
        fn()
    assert info.value.type == error_type
    assert info.value.non_retryable
    return info.value


def check(activities: SmsActivities, message_id: str, backend: str = "") -> SmsDeliveryResult:
    return ActivityEnvironment().run(
        activities.check_sms_delivery, SmsDeliveryInput(message_id, backend)
    )


class FlakyBackend:
    """Fails like a timeout after the request left, then works. No `find`."""

    name = "flaky"

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.fail = True

    def send(self, to: str, text: str, idempotency_key: str) -> str:
        self.sent.append(text)
        if self.fail:
            raise TimeoutError("read timed out")
        return f"flaky-{len(self.sent)}"
