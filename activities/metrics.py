"""What the activities count, as an interface: the worker process passes in its Prometheus
registry (workers/metrics.py implements this), tests and tools pass nothing. Keeps the
activities free of the process that serves the metrics."""

from __future__ import annotations

from typing import Protocol


class StepMetrics(Protocol):
    def observe_transcription(self, processing_s: float, duration_s: float) -> None:
        """One message transcribed: processing seconds over audio seconds (the RTF)."""

    def booking(self, status: str, sector: str = "") -> None:
        """One `book_pickup` result (booked, already_booked, no_slot, too_many_items), with
        the sector it was for."""

    def booking_conflict(self, kind: str) -> None:
        """Capacity pressure or a concurrent attempt met while booking."""

    def sms_event(self, event: str) -> None:
        """sent, failed, delivered, undelivered."""

    def observe_turn_latency(self, seconds: float) -> None:
        """Live calls: end of the caller's turn to the reply queued for playout."""

    def turn_went_on(self) -> None:
        """Live calls: a turn the caller went on with after the bot took it as ended."""

    def observe_answer_latency(self, seconds: float) -> None:
        """Live calls: end of the caller's turn to the answer queued for playout (the
        acknowledgement and « un instant » before it are not the answer)."""

    def turn_acknowledged(self) -> None:
        """Live calls: a turn acknowledged because its answer was late (ack_ms)."""
