"""Sending an SMS exactly once, whatever the retries.

Exactly once, and what it costs
-------------------------------
A Temporal activity may run more than once (retry after a failure or a timeout, a worker that
dies mid-call, another worker replica picking the retry up), so every send goes through the
ledger keyed by the idempotency key, in the service database that every replica shares
(`ledger.py`):

    claim (state "sending") -> provider call -> "sent" + message id
                                            \\-> "failed"   (the provider surely did not send)
                                            \\-> "unknown"  (it may have sent)

- A key already "sent" returns the recorded message id with `duplicate=True`: no second SMS.
- "failed" is reserved for outcomes that prove nothing left: an HTTP 429 or 408, OVH's
  "query out of time" (refused before reading the job), a connection that could not be
  opened, or a 4xx rejection. The next attempt sends again.
- "unknown" covers every ambiguous failure: any 5xx (a gateway's 502/504 may come after OVH
  accepted the job), a read timeout, a connection cut after the request went out, a worker
  killed during the call (its row stays "sending"; once it is older than `inflight_lease_s` it
  counts as unknown, before that another attempt may still be running and the new one backs
  off with a retryable error). The next attempt, at least `settle_s` later, asks the provider
  whether the message exists (`find`: the outbox file; OVH outgoing messages by tag, then
  pending jobs) and records it as sent if so; only a provider that answers "no such message"
  lets it send again. A backend that cannot answer gets no second send: the activity fails
  with `SMS_UNCERTAIN` (non-retryable) and a person checks. We prefer a person checking over a
  duplicate nobody notices, and over a silent loss.

The ledger holds no personal data: no number, no text (only its SHA-256, to spot a key reused
for another message).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from temporalio.exceptions import ApplicationError

from activities.messaging.backends import ReconcilableBackend, SmsBackend
from activities.messaging.errors import (
    SmsConfigError,
    SmsInFlightError,
    SmsNotSentError,
    SmsRejectedError,
    redact_numbers,
)
from activities.messaging.ledger import SmsLedger
from domain.errors import CONFIG_ERROR, SMS_REJECTED, SMS_UNCERTAIN

if TYPE_CHECKING:
    from activities.metrics import StepMetrics


class SmsSender:
    """Sends through `backend` at most once per idempotency key, every attempt recorded in
    `ledger`. Outcomes a retry cannot change raise a non-retryable ApplicationError."""

    def __init__(
        self, backend: SmsBackend, ledger: SmsLedger, metrics: StepMetrics | None = None
    ) -> None:
        self.backend = backend
        self.ledger = ledger
        self.metrics = metrics

    def deliver(self, key: str, to: str, text: str) -> tuple[str, str, bool]:
        """(message id, backend name, duplicate)."""
        backend = self.backend.name
        digest = hashlib.sha256(text.encode()).hexdigest()
        claim = self.ledger.claim(key, backend, digest)
        if claim.action == "sent":
            return claim.message_id, claim.backend, True
        if claim.action == "in_flight":
            raise SmsInFlightError("un envoi précédent de ce SMS est peut-être encore en cours")
        if claim.action == "uncertain":
            found = self._reconcile(key, to, text)
            if found is not None:
                self.ledger.mark_sent(key, found)
                return found, backend, True
            if not self.ledger.take_over(key, claim.attempts, backend):
                raise SmsInFlightError("un autre essai vient de reprendre cet envoi")
        return self._send(key, to, text), backend, False

    def _reconcile(self, key: str, to: str, text: str) -> str | None:
        if not isinstance(self.backend, ReconcilableBackend):
            raise ApplicationError(
                "Envoi précédent d'issue inconnue et fournisseur sans recherche : "
                "vérifier avant de renvoyer",
                type=SMS_UNCERTAIN,
                non_retryable=True,
            )
        try:
            return self.backend.find(to, text, key)
        except (SmsRejectedError, SmsConfigError) as err:
            raise ApplicationError(
                f"Envoi précédent d'issue inconnue, vérification impossible : {err}",
                type=SMS_UNCERTAIN,
                non_retryable=True,
            ) from None

    def _send(self, key: str, to: str, text: str) -> str:
        try:
            message_id = self.backend.send(to, text, key)
        except SmsRejectedError as err:
            self._count_failed()
            self.ledger.mark_failed(key, str(err))
            raise ApplicationError(str(err), type=SMS_REJECTED, non_retryable=True) from None
        except SmsConfigError as err:
            self._count_failed()
            self.ledger.mark_failed(key, str(err))
            raise ApplicationError(str(err), type=CONFIG_ERROR, non_retryable=True) from None
        except SmsNotSentError as err:
            self._count_failed()
            self.ledger.mark_failed(key, str(err))
            raise
        except BaseException as err:
            self._count_failed()
            # Anything else (a timeout, a bug, a cancellation) may have happened after the
            # request left: never assume "not sent".
            self.ledger.mark_unknown(key, redact_numbers(f"{type(err).__name__}: {err}"))
            raise
        self.ledger.mark_sent(key, message_id)
        return message_id

    def _count_failed(self) -> None:
        # Every failed attempt at the provider counts (a retried one again).
        if self.metrics is not None:
            self.metrics.sms_event("failed")
