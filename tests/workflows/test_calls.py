"""workflows/calls.py is the one list of the activities the workflows call."""

from __future__ import annotations

import re
from pathlib import Path

from workflows import calls

WORKFLOWS_DIR = Path(calls.__file__).parent


def test_only_calls_py_executes_activities() -> None:
    for module in WORKFLOWS_DIR.glob("*.py"):
        if module.name != "calls.py":
            text = module.read_text(encoding="utf-8")
            assert not re.search(r"execute_activity|start_activity", text), module.name


def test_all_calls_lists_every_call_once() -> None:
    declared = [v for v in vars(calls).values() if isinstance(v, calls.ActivityCall)]
    assert sorted(c.name for c in calls.ALL_CALLS) == sorted(c.name for c in declared)
    assert len({c.name for c in calls.ALL_CALLS}) == len(calls.ALL_CALLS)
    assert {c.name for c in calls.ALL_CALLS} == calls.ACTIVITY_NAMES
    assert set().union(*calls.ACTIVITY_NAMES_BY_QUEUE.values()) == calls.ACTIVITY_NAMES


def test_the_transcription_workers_run_the_audio_steps() -> None:
    assert calls.ACTIVITY_NAMES_BY_QUEUE[calls.Queue.STT] == {
        "transcribe_voicemail",
        "refine_items",
        "score_address_candidates",
    }
    assert calls.ACTIVITY_NAMES_BY_QUEUE[calls.Queue.MEDIA] == {"run_live_call"}
