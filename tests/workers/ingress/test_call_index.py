"""The call index (workers/ingress/call_index.py): where a call stands, moved by a retry,
pruned after its keep time."""

from __future__ import annotations

from pathlib import Path

from activities.bookings.engine import make_engine
from workers.ingress.call_index import CallIndex


def test_record_lookup_move_and_prune(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'service.sqlite'}")
    index = CallIndex(engine, keep_s=100.0)
    assert index.lookup("c-1") is None
    index.record("c-1", "missed-call-k1", "run-a", now=1000.0)
    assert index.lookup("c-1") == ("missed-call-k1", "run-a")
    # A retried webhook that joined a newer run of the number's case: where it is now.
    index.record("c-1", "missed-call-k1", "run-b", now=1010.0)
    assert index.lookup("c-1") == ("missed-call-k1", "run-b")
    # Past its keep time, a row goes when the next call is recorded.
    index.record("c-2", "missed-call-withheld-c-2", "run-c", now=1200.0)
    assert index.lookup("c-1") is None
    assert index.lookup("c-2") == ("missed-call-withheld-c-2", "run-c")
    engine.dispose()
