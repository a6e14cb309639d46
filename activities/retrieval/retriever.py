"""The FAQ retriever: its document store, the indexing pipeline (Markdown entries ->
documents -> embeddings -> store) and the retrieval pipeline (BM25 with French analysis and
e5 embeddings, fused per entry; BM25 alone when embeddings are off), and the confidence of
the best entry."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from haystack import Document, Pipeline
from haystack.components.writers import DocumentWriter
from haystack.document_stores.types import DuplicatePolicy

from activities.config import FaqSettings
from activities.retrieval.components import (
    E5DocumentEmbedder,
    E5TextEmbedder,
    EntryCollapser,
    FaqMarkdownToDocuments,
    HybridJoiner,
)
from activities.retrieval.corpus import ENTRY, FaqCorpusError, entry_paths, load_values
from activities.retrieval.embedding import e5_model
from activities.retrieval.stores import build_store, retrievers

log = logging.getLogger(__name__)

Mode = Literal["bm25", "embedding", "hybrid"]


@dataclass
class Hit:
    entry_id: str
    score: float
    question: str = ""
    answer: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Rankings:
    """The three rankings of one question (bm25 and embedding alone, and fused), best first."""

    bm25: list[Hit]
    embedding: list[Hit]
    hybrid: list[Hit]
    # Cosine of the question with the closest out-of-scope example (hors_sujet.yaml).
    out_of_scope_cosine: float = 0.0

    def get(self, mode: Mode) -> list[Hit]:
        return {"bm25": self.bm25, "embedding": self.embedding, "hybrid": self.hybrid}[mode]


def _hits(documents: Iterable[Document]) -> list[Hit]:
    return [
        Hit(
            entry_id=str(d.meta.get("entry_id", d.id)),
            score=float(d.score or 0.0),
            question=str(d.meta.get("question", "")),
            answer=str(d.meta.get("answer", "")),
            meta=dict(d.meta),
        )
        for d in documents
        if d.meta.get("kind", ENTRY) == ENTRY
    ]


class FaqRetriever:
    """The FAQ's document store and its indexing and retrieval pipelines."""

    def __init__(self, settings: FaqSettings, values: dict[str, str] | None = None) -> None:
        self.settings = settings
        self.values = (
            values if values is not None else load_values(settings.corpus_dir, settings.values)
        )
        self.store = build_store(settings)
        self.model = (
            e5_model(settings.embedding_threads, settings.cache_dir) if settings.embedding else None
        )
        self._retrieval = self._retrieval_pipeline()
        self._out_of_scope = self._out_of_scope_matrix()

    def _out_of_scope_matrix(self) -> np.ndarray | None:
        path = Path(self.settings.corpus_dir) / "hors_sujet.yaml"
        if self.model is None or not path.exists():
            return None
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        examples = [str(e) for e in raw.get("examples") or ()]
        if not examples:
            return None
        return np.asarray(self.model.embed_many(examples, query=True), dtype=np.float32)

    # -- indexing

    def indexing_pipeline(self) -> Pipeline:
        p = Pipeline()
        p.add_component("converter", FaqMarkdownToDocuments(self.values))
        p.add_component("writer", DocumentWriter(self.store, policy=DuplicatePolicy.OVERWRITE))
        if self.model is not None:
            p.add_component("embedder", E5DocumentEmbedder(self.model))
            p.connect("converter.documents", "embedder.documents")
            p.connect("embedder.documents", "writer.documents")
        else:
            p.connect("converter.documents", "writer.documents")
        return p

    def index(self, recreate: bool = True) -> int:
        """(Re)build the index from the corpus; returns the number of documents written."""
        sources = entry_paths(self.settings.corpus_dir)
        if not sources:
            raise FaqCorpusError(f"no FAQ entry in {self.settings.corpus_dir}")
        if recreate:
            if hasattr(self.store, "recreate_index"):
                self.store.recreate_index()
            else:
                self.store.delete_all_documents()
        result = self.indexing_pipeline().run({"converter": {"sources": sources}})
        return int(result["writer"]["documents_written"])

    def ensure_indexed(self) -> None:
        """Index when the store is empty (every start for the in-memory store; once for
        Elasticsearch, whose index outlives the worker: `encombot faq index` refreshes it)."""
        if self.store.count_documents() == 0:
            n = self.index(recreate=False)
            log.info("faq: indexed %d documents (%s)", n, self.settings.backend)

    # -- retrieval

    def _retrieval_pipeline(self) -> Pipeline:
        bm25, dense = retrievers(self.store, self.settings)
        p = Pipeline()
        p.add_component("bm25", bm25)
        if self.model is None:
            return p
        p.add_component("embedder", E5TextEmbedder(self.model))
        p.add_component("dense", dense)
        p.add_component(
            "collapse",
            EntryCollapser(elasticsearch_scores=self.settings.backend == "elasticsearch"),
        )
        p.add_component("fusion", HybridJoiner(self.settings.fusion, self.settings.bm25_weight))
        p.connect("embedder.embedding", "dense.query_embedding")
        p.connect("dense.documents", "collapse.documents")
        p.connect("bm25.documents", "fusion.bm25")
        p.connect("collapse.documents", "fusion.dense")
        return p

    def rankings(self, question: str) -> Rankings:
        question = question.strip()
        if not question:
            return Rankings([], [], [])
        if self.model is None:
            out = self._retrieval.run({"bm25": {"query": question}})
            bm25 = _hits(out["bm25"]["documents"])
            return Rankings(bm25, [], bm25)
        out = self._retrieval.run(
            {"bm25": {"query": question}, "embedder": {"text": question}},
            include_outputs_from={"bm25", "collapse", "embedder"},
        )
        reject = 0.0
        if self._out_of_scope is not None:
            q = np.asarray(out["embedder"]["embedding"], dtype=np.float32)
            reject = float(np.max(self._out_of_scope @ q))
        return Rankings(
            bm25=_hits(out["bm25"]["documents"]),
            embedding=_hits(out["collapse"]["documents"]),
            hybrid=_hits(out["fusion"]["documents"]),
            out_of_scope_cosine=reject,
        )

    def confidence(self, rankings: Rankings) -> float:
        """0..1 confidence that the best hybrid entry answers the question.

        Retrieval scores only rank; confidence needs absolute signals. With embeddings:

            (0.6 x closeness + 0.4 x margin) x in_scope

        - closeness: the best entry's cosine with its closest way of asking, mapped from 0.85
          to 0.93 (with e5 any two French requests score ~0.85, a paraphrase 0.9 and more);
        - margin: its fused-score lead over the runner-up, saturating at 0.3 (a near tie means
          the bot cannot tell which of two things was asked);
        - in_scope: 0 when the question is closer to an out-of-scope example of
          hors_sujet.yaml (passport, pothole, canteen...) than to that FAQ question, 1 when it
          is 0.01 closer to the FAQ; e5 finds every request somewhat alike, so an out-of-scope
          question is recognised by what it resembles more.
        Calibrated on corpus/faq/eval_questions.yaml (`encombot faq eval`) for
        FaqSettings.min_score = 0.4. Without embeddings (BM25 alone): BM25's score and margin,
        coarser (set a higher min_score there)."""
        if not rankings.hybrid:
            return 0.0
        best = rankings.hybrid[0]
        second = rankings.hybrid[1].score if len(rankings.hybrid) > 1 else 0.0
        if self.model is None:
            margin = (best.score - second) / best.score if best.score > 0 else 0.0
            return round(0.7 * _clip((best.score - 4.0) / 10.0) + 0.3 * _clip(margin / 0.5), 4)
        cos = float(best.meta.get("question_cosine", 0.0))
        closeness = _clip((cos - 0.85) / 0.08)
        margin = _clip((best.score - second) / 0.3)
        in_scope = 1.0
        if self._out_of_scope is not None:
            in_scope = _clip((cos - rankings.out_of_scope_cosine + 0.01) / 0.02)
        return round((0.6 * closeness + 0.4 * margin) * in_scope, 4)


def _clip(x: float) -> float:
    return max(0.0, min(1.0, x))
