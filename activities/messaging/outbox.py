"""The local SMS backend (embedded default: demo, tests): one JSON line per SMS in an outbox
file, callers' replies read from an inbox file."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from activities.messaging.backends import DeliveryStatus
from activities.messaging.errors import SmsNotFoundError
from domain.sms_models import SmsDeliveryStatus


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _append_line(path: Path, line: str, lock: threading.Lock) -> None:
    """Thread lock and flock, so worker threads and processes sharing the file never
    interleave lines; fsynced, so a reader sees every line a caller was told is written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with lock, open(path, "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.write(line)
        handle.flush()
        os.fsync(handle.fileno())


def _read_lines(path: Path, lock: threading.Lock) -> list[str]:
    if not path.exists():
        return []
    with lock, open(path, encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_SH)
        return handle.read().splitlines()


class OutboxBackend:
    """One JSON line per SMS in a local file: {"id", "to", "text", "key", "at"}.

    Every message is "delivered" the moment it is written (there is no network to lose it).

    Replies come from an inbox file (`inbox_path`, default `sms-inbox.jsonl` next to the
    outbox) so the demo can simulate a caller answering: one JSON line per SMS,
    {"sender": "+33612345678", "message": "ANNULER"}, optionally with "id" and
    "creationDatetime". Write them with `add_incoming` or append by hand (`echo '{...}' >>`);
    a line without "id" is known by a hash of its content. The inbox is never rewritten (an
    unlocked `echo >>` racing a rewrite could lose a reply): handled ids are appended to
    `<inbox>.done` instead, and listed messages are those not in it."""

    name = "outbox"

    def __init__(self, path: Path, inbox_path: Path | None = None) -> None:
        self.path = Path(path)
        self.inbox_path = Path(inbox_path) if inbox_path else self.path.with_name("sms-inbox.jsonl")
        self.done_path = self.inbox_path.with_name(self.inbox_path.name + ".done")
        self._lock = threading.Lock()
        self._inbox_lock = threading.Lock()

    def send(self, to: str, text: str, idempotency_key: str) -> str:
        message_id = f"outbox-{uuid.uuid4().hex[:16]}"
        record = {"id": message_id, "to": to, "text": text, "key": idempotency_key}
        line = json.dumps({**record, "at": _now_iso()}, ensure_ascii=False) + "\n"
        _append_line(self.path, line, self._lock)
        return message_id

    def messages(self) -> list[dict[str, Any]]:
        out = []
        for line in _read_lines(self.path, self._lock):
            with contextlib.suppress(ValueError):  # a torn last line after a disk-full crash
                out.append(json.loads(line))
        return out

    def find(self, to: str, text: str, idempotency_key: str) -> str | None:
        for message in reversed(self.messages()):
            if message.get("key") == idempotency_key:
                return str(message["id"])
        return None

    def delivery_status(self, message_id: str) -> DeliveryStatus:
        if any(str(m.get("id")) == message_id for m in self.messages()):
            return SmsDeliveryStatus.DELIVERED.value, "outbox locale"
        # Same answer as OVH for an id it does not know: nobody can say it arrived.
        return SmsDeliveryStatus.FAILED.value, "message inconnu de l'outbox"

    # ------------------------------------------------------------------ inbox

    def add_incoming(self, sender: str, message: str, received_at: str = "") -> str:
        message_id = f"inbox-{uuid.uuid4().hex[:16]}"
        record = {
            "id": message_id,
            "sender": sender,
            "message": message,
            "creationDatetime": received_at or _now_iso(),
        }
        _append_line(
            self.inbox_path, json.dumps(record, ensure_ascii=False) + "\n", self._inbox_lock
        )
        return message_id

    def _inbox(self) -> dict[str, dict[str, Any]]:
        records: dict[str, dict[str, Any]] = {}
        for line in _read_lines(self.inbox_path, self._inbox_lock):
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line still being written, or a typo: never guess
            if not isinstance(record, dict) or "sender" not in record or "message" not in record:
                continue
            message_id = str(record.get("id") or "").strip()
            if not message_id or "\n" in message_id or "\r" in message_id:
                digest = hashlib.sha256(line.strip().encode("utf-8")).hexdigest()[:16]
                message_id = f"inbox-{digest}"
            records.setdefault(message_id, {**record, "id": message_id})
        return records

    def _done(self) -> set[str]:
        return set(_read_lines(self.done_path, self._inbox_lock))

    def list_incoming(self) -> list[int | str]:
        done = self._done()
        return [message_id for message_id in self._inbox() if message_id not in done]

    def get_incoming(self, message_id: int | str) -> dict[str, Any]:
        key = str(message_id)
        record = self._inbox().get(key)
        if record is None or key in self._done():
            raise SmsNotFoundError("SMS entrant introuvable dans l'inbox")
        return {
            "id": key,
            "sender": str(record["sender"]),
            "message": str(record["message"]),
            "creationDatetime": str(record.get("creationDatetime") or ""),
        }

    def delete_incoming(self, message_id: int | str) -> None:
        if str(message_id) in self._done():
            return
        _append_line(self.done_path, f"{message_id}\n", self._inbox_lock)
