"""Recording a case's history for test_replay.py (ENCOMBOT_RECORD_HISTORIES=1): the workflow
tests that stand for a patch write their case's history beside the test-only codec key its
payloads were encrypted with."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHandle

from workers.codec.payload import dev_key_path
from workers.settings import Settings

RECORDING = bool(os.environ.get("ENCOMBOT_RECORD_HISTORIES"))


async def record_history(
    handle: WorkflowHandle[Any, Any], settings: Settings, folder: Path, workflow_type: str
) -> None:
    """Writes `<workflow_type>__<workflow id>.json` under `folder` when recording is asked."""
    if not RECORDING:
        return
    folder.mkdir(parents=True, exist_ok=True)
    history = await handle.fetch_history()
    (folder / f"{workflow_type}__{handle.id}.json").write_text(history.to_json())
    shutil.copy(dev_key_path(settings), folder / "test-codec.key")
