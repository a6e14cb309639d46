"""What crosses the Temporal boundary for FAQ answers: the input and result of the
`answer_question` activity. Pure data: no I/O, no heavy imports, so a workflow may import this
module inside `imports_passed_through()`. (The FAQ's settings are activities.config.FaqSettings.)
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FaqInput:
    question: str  # the caller's question, as transcribed or typed
    call_id: str = ""  # for logs only
    # Asked beside a pickup request of the same message (Understanding.question): an answer
    # from the item catalogue then speaks of that booking.
    with_booking: bool = False


@dataclass
class FaqCandidate:
    entry_id: str
    question: str  # the entry's question, for the agent view
    score: float


@dataclass
class FaqResult:
    """The best FAQ entry for a question and its SMS.

    `confident` is False when the best score is below the calibrated threshold (or nothing
    matched): the workflow then hands the question to an agent, who sees `candidates` and the
    proposed `sms_text`."""

    entry_id: str = ""  # "" when nothing matched; "catalogue" for the item catalogue's answer
    question: str = ""  # the entry's question
    # The answer paragraph the SMS holds: a workflow sends it with the SMS activity as
    # template "faq_answer", context {"answer": answer}, which renders `sms_text` again.
    answer: str = ""
    sms_text: str = ""  # the rendered SMS: <= 3 segments, with a number for more
    score: float = 0.0  # 0..1, comparable with FaqSettings.min_score
    confident: bool = False
    encoding: str = ""  # "GSM-7" | "UCS-2"
    segments: int = 0
    candidates: list[FaqCandidate] = field(default_factory=list)
    generated: bool = False  # True when an LLM rephrased the extractive answer
    # Where the answer comes from: "faq" (the entry `entry_id`), or "catalogue" (an item
    # question the FAQ had no confident entry for, answered from the item catalogue).
    source: str = "faq"
