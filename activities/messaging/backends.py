"""What an SMS backend offers, as protocols: sending (every backend), finding a message after
an unknown outcome, delivery reports, and callers' replies. Two adapters: the local outbox
(`outbox.py`) and the OVH SMS API (`ovh.py`)."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


class SmsBackend(Protocol):
    name: str

    def send(self, to: str, text: str, idempotency_key: str) -> str:
        """Send one SMS; return the provider's message id."""
        ...


@runtime_checkable
class ReconcilableBackend(SmsBackend, Protocol):
    def find(self, to: str, text: str, idempotency_key: str) -> str | None:
        """The id of a message already sent (or queued) for this key, None when the provider
        is sure there is none. Raises like `send` when it cannot tell."""
        ...


DeliveryStatus = tuple[str, str]  # (an SmsDeliveryStatus value, detail without personal data)


@runtime_checkable
class DeliveryTrackingBackend(SmsBackend, Protocol):
    def delivery_status(self, message_id: str) -> DeliveryStatus:
        """What became of a message `send` returned. Raises SmsRejectedError (4xx: never
        retried), SmsConfigError, or SmsNotSentError (5xx, network: retried)."""
        ...


@runtime_checkable
class InboxBackend(Protocol):
    """Callers' replies (2-way SMS). A message stays at the provider until deleted, so a
    crash between reading and routing it loses nothing."""

    name: str

    def list_incoming(self) -> list[int | str]:
        """Ids of the messages waiting, oldest first."""
        ...

    def get_incoming(self, message_id: int | str) -> dict[str, Any]:
        """{"id", "sender", "message", "creationDatetime"}; SmsNotFoundError when gone."""
        ...

    def delete_incoming(self, message_id: int | str) -> None:
        """Forget a handled message; deleting one already gone is not an error."""
        ...
