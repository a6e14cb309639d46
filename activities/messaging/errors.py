"""What an SMS backend raises, by what the activity must do about it."""

from __future__ import annotations

import re

_DIGITS = re.compile(r"\+?\d[\d .-]{5,}\d")


class SmsBackendError(Exception):
    """Base of what a backend raises. Messages are safe to show: no secret, no number."""


class SmsRejectedError(SmsBackendError):
    """The provider refused this message for good (4xx, invalid receiver)."""


class SmsConfigError(SmsBackendError):
    """The backend is misconfigured (missing credentials, unknown endpoint)."""


class SmsNotSentError(SmsBackendError):
    """Transient failure that proves the message did not leave (5xx, connection refused):
    retryable, and the retry sends. Lookups (delivery, incoming) raise it for any transient
    failure: they send nothing."""


class SmsUncertainError(SmsBackendError):
    """Transient failure after which the message may have left (read timeout, cut
    connection): retryable, and the retry first asks the provider."""


class SmsNotFoundError(SmsBackendError):
    """The provider does not know this id (an incoming message already deleted...)."""


class SmsInFlightError(Exception):
    """Another attempt for the same key may still be running: retry later."""


def redact_numbers(message: str) -> str:
    """An error message fit for the ledger and the logs: phone numbers masked, kept short."""
    return _DIGITS.sub("[numéro]", message)[:200]
