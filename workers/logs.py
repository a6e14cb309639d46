"""Process logging: a terminal format, or one JSON object per line for a log collector.

The JSON lines carry the time, level, logger and message, and the Temporal ids of the code that
logged: inside an activity its type, id, attempt and its workflow's id, run id and type (from
the SDK's `temporal_activity` extra, or `activity.info()` for a plain `logging` logger);
inside a workflow the SDK's `temporal_workflow` extra (workflow id, run id, type, task queue,
attempt, and the update id/name in an Update handler). Never the activity's or workflow's
arguments: they hold personal data. An exception is written as its type and stack frames
(file, line, function), without its message, which may quote what a caller said; the full
failure stays, encrypted, in the workflow history.

Other `extra` fields are not copied: code in this project passes timings and counts there, but
a field name alone cannot tell a count from a phone number."""

from __future__ import annotations

import json
import logging
import traceback
from datetime import UTC, datetime
from typing import Any, Literal

from temporalio import activity, workflow

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

# Keys of the SDK's logger details that are identifiers, never payloads.
_ACTIVITY_KEYS = (
    "activity_id",
    "activity_type",
    "attempt",
    "namespace",
    "task_queue",
    "workflow_id",
    "workflow_run_id",
    "workflow_type",
)
_WORKFLOW_KEYS = (
    "attempt",
    "namespace",
    "run_id",
    "task_queue",
    "workflow_id",
    "workflow_type",
    "update_id",
    "update_name",
)


def _pick(details: Any, keys: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(details, dict):
        return {}
    return {k: details[k] for k in keys if k in details and details[k] is not None}


def _activity_context(record: logging.LogRecord) -> dict[str, Any]:
    details = getattr(record, "temporal_activity", None)
    if details is not None:
        return _pick(details, _ACTIVITY_KEYS)
    # A module logger (logging.getLogger) called from inside an activity: the same ids from
    # the activity context of this thread / task.
    if not activity.in_activity():
        return {}
    info = activity.info()
    return {
        "activity_id": info.activity_id,
        "activity_type": info.activity_type,
        "attempt": info.attempt,
        "namespace": info.namespace,
        "task_queue": info.task_queue,
        "workflow_id": info.workflow_id,
        "workflow_run_id": info.workflow_run_id,
        "workflow_type": info.workflow_type,
    }


class JsonFormatter(logging.Formatter):
    """One JSON object per line: `time` (UTC, ISO 8601), `level`, `logger`, `message`, then
    `workflow_id` / `run_id` and an `activity` or `workflow` object when the record comes
    from Temporal code, and `exception` (type and frames) when one is attached."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        act = _activity_context(record)
        if act:
            out["workflow_id"] = act.get("workflow_id")
            out["run_id"] = act.get("workflow_run_id")
            out["activity"] = act
        wf = _pick(getattr(record, "temporal_workflow", None), _WORKFLOW_KEYS)
        if wf:
            out.setdefault("workflow_id", wf.get("workflow_id"))
            out.setdefault("run_id", wf.get("run_id"))
            out["workflow"] = wf
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            out["exception"] = {
                "type": f"{type(exc).__module__}.{type(exc).__qualname__}",
                "frames": [
                    f"{frame.filename}:{frame.lineno} in {frame.name}"
                    for frame in traceback.extract_tb(exc.__traceback__)
                ],
            }
        return json.dumps(out, ensure_ascii=False, default=str)


# The SDK's worker internals write whole activations and completions at DEBUG: activity
# results, signal and Update arguments, as payloads. Encrypted when the codec is on, clear
# text when it is not (a test server, a misconfigured worker): never below INFO.
PAYLOAD_LOGGERS = (
    "temporalio.worker._activity",
    "temporalio.worker._workflow",
    "temporalio.worker._workflow_instance",
    "temporalio.worker._nexus",
    "temporalio.bridge",
    # httpx writes every request's URL at INFO (an `audio_url`'s path and query, an API's
    # query string), httpcore its hosts at DEBUG: WARNING at least.
    "httpx",
    "httpcore",
)
_URL_LOGGERS = frozenset({"httpx", "httpcore"})


class DropHeartbeatDetails(logging.Filter):
    """The SDK writes every heartbeat's details at DEBUG through `temporalio.activity`, the
    logger the activities' own lines use too: a live call's progress (what the caller said,
    the address, the callback number) at each heartbeat. Those records alone are dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith("Recording heartbeat"))


_DROP_HEARTBEATS = DropHeartbeatDetails()
HEARTBEAT_LOGGER = "temporalio.activity"


def quiet_payload_loggers() -> None:
    """Keep the loggers that dump payloads or URLs quiet, whatever the root level."""
    for name in PAYLOAD_LOGGERS:
        logger = logging.getLogger(name)
        floor = logging.WARNING if name in _URL_LOGGERS else logging.INFO
        logger.setLevel(max(logger.getEffectiveLevel(), floor))
    logging.getLogger(HEARTBEAT_LOGGER).addFilter(_DROP_HEARTBEATS)  # once: same instance


def configure_logging(log_format: LogFormat = "text", level: int = logging.INFO) -> None:
    """Set up the root logger of a process (worker, ingress, codec server)."""
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
        # The ids are fields of the JSON object: the SDK need not append them to the text.
        activity.logger.activity_info_on_message = False
        workflow.logger.workflow_info_on_message = False
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    quiet_payload_loggers()
