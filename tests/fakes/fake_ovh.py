"""A fake OVH API (the SMS part) on 127.0.0.1, for the real `ovh` client.

It checks requests the way the real API does, so a client that passes here signs correctly:

- `GET /1.0/auth/time` (unsigned) returns the server clock (`clock_offset_s` shifts it, to
  prove the client uses the server time and not its own);
- every other call needs X-Ovh-Application, X-Ovh-Consumer, X-Ovh-Timestamp and
  X-Ovh-Signature = "$1$" + sha1(app_secret + "+" + consumer_key + "+" + METHOD + "+" +
  full URL + "+" + body + "+" + timestamp) (see `ovh.client.Client.raw_call`); an unknown
  application key, an unknown consumer key, a bad signature or a timestamp too far from the
  server clock are refused with the status and errorCode of the real API.

SMS routes: POST/GET /sms/{service}/jobs, GET /sms/{service}/jobs/{id},
GET /sms/{service}/outgoing[?tag=&receiver=], GET /sms/{service}/outgoing/{id},
GET /sms/{service}/incoming[?tag=&sender=], GET|DELETE /sms/{service}/incoming/{id}, GET /sms.

Scripting: `fail_next(503, times=2)` answers the next matching requests with an error before
doing anything; `drop_next()` records the job then closes the connection without answering
(the "sent, but the client never knew" case); `accept_then_fail(504)` records the job then
answers 504 (a gateway that gave up while OVH accepted it); `step_clock(s)` moves the server
clock by `s` seconds (what a step of the client host's clock looks like from the client: its
cached offset is wrong from then on); `keep_pending = True` leaves jobs in the pending
list instead of moving them to outgoing; `invalid_receivers` lists numbers the API reports as
invalid; `add_incoming()` simulates a caller's reply; `set_delivery(id, receipt, ptt)` writes
the operator's delivery report of a sent job (deliveryReceipt: 0 none yet, 1 delivered, 2 not
delivered, 4 buffered, 8 at the SMSC, 16 rejected); `forget_job(id)` deletes a job from the
history (404 on both /jobs/{id} and /outgoing/{id}); `outage_status = 500` answers every request
with that status until set back to None.

    with FakeOvhApi() as fake:
        settings = fake.settings()          # OvhSettings pointing at the fake
        ...
        assert [job.message for job in fake.jobs] == [...]
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import re
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pydantic import SecretStr

from activities.config import OvhSettings
from domain.sms import sms_info

API_PREFIX = "/1.0"
DROP = object()  # answer of `handle` meaning "close the connection without a response"
_E164 = re.compile(r"^\+\d{8,15}$")


@dataclass
class FakeJob:
    id: int
    service: str
    message: str
    receiver: str
    body: dict[str, Any]  # the request body as received, for assertions on every field
    created_at: float
    credits: int
    tag: str = ""
    delivery_receipt: int = 0  # OVH: 0 not yet known, 1 delivered, 2 failed...
    ptt: int = 0  # the operator's own status code

    @property
    def sender(self) -> str:
        return str(self.body.get("sender") or "")

    def as_outgoing(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "creationDatetime": _iso(self.created_at),
            "credits": self.credits,
            "deliveryReceipt": self.delivery_receipt,
            "differedDelivery": 0,
            "message": self.message,
            "messageLength": len(self.message),
            "numberOfSms": self.credits,
            "ptt": self.ptt,
            "receiver": self.receiver,
            "sender": self.sender or "36xxx",
            "tag": self.tag,
            "tariffCode": "",
        }

    def as_job(self) -> dict[str, Any]:
        out = self.as_outgoing()
        del out["tag"], out["tariffCode"]
        return out


@dataclass
class FakeIncoming:
    id: int
    sender: str
    message: str
    tag: str = ""
    created_at: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "creationDatetime": _iso(self.created_at),
            "credits": 0,
            "message": self.message,
            "sender": self.sender,
            "tag": self.tag,
        }


@dataclass
class _Failure:
    status: int
    times: int
    method: str
    path: re.Pattern[str]
    body: dict[str, Any]
    drop: bool = False  # record the job, then close without answering
    after: bool = False  # record the job, then answer `status`


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


class _Reply(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


def _error(status: int, message: str, code: str = "") -> _Reply:
    body: dict[str, Any] = {"message": message}
    if code:
        body["errorCode"] = code
    return _Reply(status, body)


class FakeOvhApi:
    def __init__(
        self,
        application_key: str = "",
        application_secret: str = "",
        consumer_key: str = "",
        service_name: str = "sms-fk12345-1",
        *,
        clock_offset_s: int = 0,
        max_skew_s: int = 120,
        first_id: int = 100_001,
    ) -> None:
        # Generated, as a site's are: worker processes refuse short or placeholder
        # credentials at start (workers/secret_check.py).
        self.application_key = application_key or secrets.token_urlsafe(18)
        self.application_secret = application_secret or secrets.token_urlsafe(24)
        self.consumer_key = consumer_key or secrets.token_urlsafe(24)
        self.service_name = service_name
        self.clock_offset_s = clock_offset_s
        self.max_skew_s = max_skew_s
        self.keep_pending = False
        # While set, every request (auth/time included) gets this status, as when OVH is down;
        # the request is still counted in `requests`, to measure the clients' backoff.
        self.outage_status: int | None = None
        self.invalid_receivers: set[str] = set()
        self.requests: list[tuple[str, str]] = []  # (method, path with query), signed or not
        self.rejected: list[tuple[int, str]] = []  # (status, message) of auth failures
        self._jobs: list[FakeJob] = []
        self._incoming: list[FakeIncoming] = []
        self._failures: list[_Failure] = []
        # Tests that start workflows named after these ids on the shared dev server pass a
        # random start, as ids are unique per account at OVH.
        self._ids = itertools.count(first_id)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._connections: set[socket.socket] = set()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ life cycle

    def start(self) -> FakeOvhApi:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="fake-ovh", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        # Keep-alive connections outlive the listening socket: without this a stopped fake
        # would go on answering the client's pooled connection.
        with self._lock:
            connections, self._connections = set(self._connections), set()
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeOvhApi:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "fake OVH API not started"
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """The API root, as `OvhSettings.endpoint_url` wants it."""
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    def settings(self, endpoint: str = "fake-ovh", **overrides: Any) -> OvhSettings:
        values: dict[str, Any] = {
            "endpoint": endpoint,
            "endpoint_url": self.base_url,
            "application_key": SecretStr(self.application_key),
            "application_secret": SecretStr(self.application_secret),
            "consumer_key": SecretStr(self.consumer_key),
            "service_name": self.service_name,
            "timeout_s": 5.0,
        }
        values.update(overrides)
        return OvhSettings(**values)

    def now(self) -> int:
        return int(time.time()) + self.clock_offset_s

    # ------------------------------------------------------------------ scripting

    def fail_next(
        self,
        status: int,
        times: int = 1,
        *,
        method: str = "POST",
        path: str = r"/sms/[^/]+/jobs$",
        message: str | None = None,
        error_code: str = "",
    ) -> None:
        """The next `times` signed requests matching `method` and the `path` regex (relative
        to /1.0, query excluded) get `status` and are not processed."""
        body: dict[str, Any] = {"message": message or f"Fake failure {status}"}
        if error_code:
            body["errorCode"] = error_code
        with self._lock:
            self._failures.append(_Failure(status, times, method, re.compile(path), body))

    def drop_next(self, times: int = 1) -> None:
        """The next `times` SMS jobs are recorded (and will be delivered) but the connection is
        closed before any answer."""
        with self._lock:
            self._failures.append(
                _Failure(0, times, "POST", re.compile(r"/sms/[^/]+/jobs$"), {}, drop=True)
            )

    def accept_then_fail(self, status: int = 504, times: int = 1) -> None:
        """The next `times` SMS jobs are recorded (and will be delivered), then answered
        `status`: a gateway timing out in front of an OVH that did its work."""
        body = {"message": f"Fake gateway answer {status} after the job was accepted"}
        with self._lock:
            self._failures.append(
                _Failure(status, times, "POST", re.compile(r"/sms/[^/]+/jobs$"), body, after=True)
            )

    def step_clock(self, seconds: int) -> None:
        """The server clock jumps by `seconds`: signatures made with the offset the client
        read before are now "out of time"."""
        with self._lock:
            self.clock_offset_s += seconds

    def add_incoming(self, sender: str, message: str, tag: str = "") -> int:
        with self._lock:
            incoming = FakeIncoming(next(self._ids), sender, message, tag)
            self._incoming.append(incoming)
            return incoming.id

    def set_delivery_receipt(self, job_id: int, receipt: int) -> None:
        self.set_delivery(job_id, receipt)

    def set_delivery(self, job_id: int | str, receipt: int, ptt: int = 0) -> None:
        with self._lock:
            for job in self._jobs:
                if job.id == int(job_id):
                    job.delivery_receipt = receipt
                    job.ptt = ptt
                    return
        raise KeyError(job_id)

    def forget_job(self, job_id: int | str) -> None:
        with self._lock:
            self._jobs = [job for job in self._jobs if job.id != int(job_id)]

    @property
    def incoming(self) -> list[FakeIncoming]:
        with self._lock:
            return list(self._incoming)

    def flush_pending(self) -> None:
        """Hand the pending jobs to the operator (they move to outgoing)."""
        self.keep_pending = False

    @property
    def jobs(self) -> list[FakeJob]:
        with self._lock:
            return list(self._jobs)

    # ------------------------------------------------------------------ request handling

    def _take_failure(self, method: str, path: str) -> _Failure | None:
        with self._lock:
            for failure in self._failures:
                if failure.method == method and failure.path.search(path):
                    failure.times -= 1
                    if failure.times <= 0:
                        self._failures.remove(failure)
                    return failure
        return None

    def _check_auth(self, method: str, url: str, body: str, headers: Any) -> None:
        app = headers.get("X-Ovh-Application")
        if app != self.application_key:
            raise _error(403, "This application key is invalid", "INVALID_KEY")
        consumer = headers.get("X-Ovh-Consumer")
        if consumer != self.consumer_key:
            raise _error(403, "This credential does not exist", "INVALID_CREDENTIAL")
        timestamp = headers.get("X-Ovh-Timestamp") or ""
        if not timestamp.isdigit() or abs(int(timestamp) - self.now()) > self.max_skew_s:
            raise _error(400, "Query out of time", "QUERY_TIME_OUT")
        expected = hashlib.sha1(
            "+".join([self.application_secret, consumer, method, url, body, timestamp]).encode(
                "utf-8"
            )
        ).hexdigest()
        if headers.get("X-Ovh-Signature") != "$1$" + expected:
            raise _error(403, "Invalid signature", "INVALID_SIGNATURE")

    def handle(self, method: str, url: str, raw_body: str, headers: Any) -> tuple[int, Any]:
        """(status, JSON body); DROP as body means: close without answering."""
        parts = urlsplit(url)
        if not parts.path.startswith(API_PREFIX):
            raise _error(404, "Got an invalid (or empty) URL")
        path = parts.path[len(API_PREFIX) :]
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        with self._lock:
            self.requests.append((method, path + (f"?{parts.query}" if parts.query else "")))
            outage = self.outage_status
        if outage is not None:
            return outage, {"message": f"Fake outage {outage}"}
        if method == "GET" and path == "/auth/time":
            return 200, self.now()
        try:
            self._check_auth(method, url, raw_body, headers)
        except _Reply as reply:
            with self._lock:
                self.rejected.append((reply.status, reply.body["message"]))
            raise
        failure = self._take_failure(method, path)
        if failure is not None and not (failure.drop or failure.after):
            return failure.status, failure.body
        body = json.loads(raw_body) if raw_body else {}
        status, result = self._route(method, path, query, body)
        if failure is not None and failure.after:  # processed, then an error status
            return failure.status, failure.body
        if failure is not None:  # drop: processed, never answered
            return status, DROP
        return status, result

    def _service(self, name: str) -> None:
        if name != self.service_name:
            raise _error(404, f"The requested object (serviceName = {name}) does not exist")

    def _route(
        self, method: str, path: str, query: dict[str, str], body: dict[str, Any]
    ) -> tuple[int, Any]:
        segments = path.strip("/").split("/")
        if segments == ["sms"] and method == "GET":
            return 200, [self.service_name]
        if len(segments) < 3 or segments[0] != "sms":
            raise _error(404, "Got an invalid (or empty) URL")
        self._service(segments[1])
        resource, rest = segments[2], segments[3:]
        if resource == "jobs":
            if method == "POST" and not rest:
                return 200, self._post_job(body)
            if method == "GET" and not rest:
                with self._lock:
                    return 200, [j.id for j in self._jobs if self.keep_pending]
            if method == "GET" and len(rest) == 1:
                job = self._find_job(rest[0], pending=True)
                return 200, job.as_job()
        if resource == "outgoing":
            if method == "GET" and not rest:
                with self._lock:
                    jobs = [] if self.keep_pending else list(self._jobs)
                return 200, [
                    j.id
                    for j in jobs
                    if query.get("tag", j.tag) == j.tag
                    and query.get("receiver", j.receiver) == j.receiver
                ]
            if method == "GET" and len(rest) == 1:
                return 200, self._find_job(rest[0], pending=False).as_outgoing()
        if resource == "incoming":
            if method == "GET" and not rest:
                with self._lock:
                    return 200, [
                        m.id
                        for m in self._incoming
                        if query.get("tag", m.tag) == m.tag
                        and query.get("sender", m.sender) == m.sender
                    ]
            if len(rest) == 1 and method in ("GET", "DELETE"):
                with self._lock:
                    for m in self._incoming:
                        if str(m.id) == rest[0]:
                            if method == "DELETE":
                                self._incoming.remove(m)
                                return 200, None
                            return 200, m.as_dict()
                raise _error(404, f"The requested object (id = {rest[0]}) does not exist")
        raise _error(404, "Got an invalid (or empty) URL")

    def _find_job(self, raw_id: str, *, pending: bool) -> FakeJob:
        with self._lock:
            visible = self.keep_pending == pending
            for job in self._jobs:
                if str(job.id) == raw_id and visible:
                    return job
        raise _error(404, f"The requested object (id = {raw_id}) does not exist")

    def _post_job(self, body: dict[str, Any]) -> dict[str, Any]:
        message = body.get("message")
        if not isinstance(message, str) or not message:
            raise _error(400, "Missing parameter message")
        receivers = body.get("receivers")
        if not isinstance(receivers, list) or not receivers:
            raise _error(400, "Missing parameter receivers")
        if body.get("coding", "7bit") not in ("7bit", "8bit"):
            raise _error(400, "Invalid value for parameter coding")
        if body.get("charset", "UTF-8") != "UTF-8":
            raise _error(400, "Invalid value for parameter charset")
        if body.get("priority", "high") not in ("high", "medium", "low", "veryLow"):
            raise _error(400, "Invalid value for parameter priority")
        if body.get("sender") and body.get("senderForResponse"):
            raise _error(400, "Cannot use both sender and senderForResponse")
        credits = sms_info(message).segments
        valid = [r for r in receivers if _E164.match(str(r)) and r not in self.invalid_receivers]
        invalid = [r for r in receivers if r not in valid]
        ids = []
        with self._lock:
            for receiver in valid:
                job = FakeJob(
                    id=next(self._ids),
                    service=self.service_name,
                    message=message,
                    receiver=receiver,
                    body=body,
                    created_at=time.time(),
                    credits=credits,
                    tag=str(body.get("tag") or ""),
                )
                self._jobs.append(job)
                ids.append(job.id)
        return {
            "ids": ids,
            "invalidReceivers": invalid,
            "totalCreditsRemoved": credits * len(valid),
            "validReceivers": valid,
        }


class _Handler(BaseHTTPRequestHandler):
    fake: FakeOvhApi
    protocol_version = "HTTP/1.1"  # keep-alive, like the real API: the client reuses sockets

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        with self.fake._lock:
            self.fake._connections.add(self.connection)

    def finish(self) -> None:
        with self.fake._lock:
            self.fake._connections.discard(self.connection)
        super().finish()

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8") if length else ""
        url = f"http://{self.headers.get('Host')}{self.path}"
        try:
            status, body = self.fake.handle(self.command, url, raw, self.headers)
        except _Reply as reply:
            status, body = reply.status, reply.body
        except Exception as err:  # a bug in the fake must show, not hang the client
            status, body = 500, {"message": f"fake OVH error: {err!r}"}
        if body is DROP:
            self.close_connection = True
            return
        self._send(status, body)

    def _send(self, status: int, body: Any) -> None:
        payload = b"null" if body is None else json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("X-OVH-QUERYID", f"FR.fake.{next(_query_ids)}")
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = _dispatch


_query_ids = itertools.count(1)
