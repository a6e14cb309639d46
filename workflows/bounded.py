"""What keeps a long-lived case bounded (issue 18, point 4): a history that keeps its newest
lines only, and the test of when a run should continue as new. Deterministic, no I/O.

The state a case carries across continue-as-new is in domain/case_carry.py.
"""

from __future__ import annotations

from temporalio import workflow

from workflows.agent_queue import CaseHistory

with workflow.unsafe.imports_passed_through():
    from domain.case_carry import HISTORY_EVENTS_LIMIT, MAX_HISTORY_LINES, CaseLog


class BoundedHistory(CaseHistory):
    """CaseHistory (same privacy rule) that keeps the newest `limit` lines in `log`, the
    carried state: a chatty caller cannot push the `state` query towards the 4 MB gRPC limit.
    The worker's log still gets every line."""

    def __init__(self, log: CaseLog, limit: int = MAX_HISTORY_LINES) -> None:
        super().__init__()
        self.log = log
        self.lines = log.lines
        self.limit = limit

    def note(self, line: str, private: str | None = None) -> None:
        super().note(line, private)
        extra = len(self.lines) - self.limit
        if extra > 0:
            del self.lines[:extra]
            self.log.dropped += extra

    def view(self) -> list[str]:
        """The lines for the state query, with a first line saying how many were let go."""
        if not self.log.dropped:
            return list(self.lines)
        return [f"({self.log.dropped} lignes plus anciennes non gardées)", *self.lines]


def history_is_long(limit: int = 0) -> bool:
    """Time to continue as new: the server suggests it, or the run's history has `limit`
    events (0: HISTORY_EVENTS_LIMIT). Both come from the history: replay sees the same."""
    info = workflow.info()
    if info.is_continue_as_new_suggested():
        return True
    return info.get_current_history_length() >= (limit or HISTORY_EVENTS_LIMIT)
