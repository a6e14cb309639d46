"""The haystack components of the FAQ pipelines: entries to documents, e5 embedders, the
collapse of dense hits to one per entry, and the fusion of the BM25 and dense rankings."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Literal

from haystack import Document, component

from activities.retrieval.corpus import ENTRY, QUESTION, parse_entry
from activities.retrieval.embedding import E5Model


@component
class FaqMarkdownToDocuments:
    """Markdown FAQ entries -> haystack Documents (one per entry, one per way of asking)."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    @component.output_types(documents=list[Document])
    def run(self, sources: list[Path]) -> dict[str, Any]:
        documents: list[Document] = []
        for path in sources:
            entry = parse_entry(Path(path), self.values)
            documents.append(
                Document(
                    id=entry.id,
                    content=entry.search_text(),
                    meta={
                        "kind": ENTRY,
                        "entry_id": entry.id,
                        "topic": entry.topic,
                        "question": entry.question,
                        "answer": entry.answer,
                        "details": entry.details,
                        "last_checked": entry.last_checked,
                        "source": entry.source,
                        "passage": entry.passage(),
                    },
                )
            )
            for i, q in enumerate(entry.all_questions):
                # No content: the ways of asking are already in the entry's content, and
                # BM25 statistics must count entries, not questions.
                documents.append(
                    Document(
                        id=f"{entry.id}#q{i}",
                        content=None,
                        meta={"kind": QUESTION, "entry_id": entry.id, "text": q},
                    )
                )
        return {"documents": documents}


@component
class E5DocumentEmbedder:
    """Embeds entries as e5 passages and ways of asking as e5 queries."""

    def __init__(self, model: E5Model) -> None:
        self.model = model

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]) -> dict[str, Any]:
        entries = [d for d in documents if d.meta.get("kind") == ENTRY]
        questions = [d for d in documents if d.meta.get("kind") == QUESTION]
        out: list[Document] = []
        for docs, texts, query in (
            (entries, [d.meta["passage"] for d in entries], False),
            (questions, [d.meta["text"] for d in questions], True),
        ):
            vectors = self.model.embed_many(texts, query) if texts else []
            out.extend(
                # The passage text was only needed here: the store need not keep it.
                dataclasses.replace(
                    doc,
                    embedding=vector,
                    meta={k: v for k, v in doc.meta.items() if k != "passage"},
                )
                for doc, vector in zip(docs, vectors, strict=True)
            )
        return {"documents": out}


@component
class E5TextEmbedder:
    """Embeds the caller's question as an e5 query."""

    def __init__(self, model: E5Model) -> None:
        self.model = model

    @component.output_types(embedding=list[float])
    def run(self, text: str) -> dict[str, Any]:
        return {"embedding": self.model.query(text)}


@component
class EntryCollapser:
    """Dense hits (entries and ways of asking) -> one document per entry, scored by the mean
    of its best question cosine and its passage cosine; the question that matched best is kept
    in meta (it explains the answer to an agent)."""

    def __init__(self, elasticsearch_scores: bool = False) -> None:
        # Elasticsearch scores a cosine as (1 + cos) / 2; the confidence needs the cosine.
        self.elasticsearch_scores = elasticsearch_scores

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]) -> dict[str, Any]:
        best_q: dict[str, tuple[float, str]] = {}
        passage: dict[str, Document] = {}
        for doc in documents:
            entry_id = str(doc.meta.get("entry_id", ""))
            score = float(doc.score or 0.0)
            if self.elasticsearch_scores:
                score = 2.0 * score - 1.0
                doc = dataclasses.replace(doc, score=score)
            if doc.meta.get("kind") == ENTRY:
                passage[entry_id] = doc
            elif score > best_q.get(entry_id, (-2.0, ""))[0]:
                best_q[entry_id] = (score, str(doc.meta.get("text", "")))
        out = []
        for entry_id, doc in passage.items():
            q_score, q_text = best_q.get(entry_id, (float(doc.score or 0.0), ""))
            p_score = float(doc.score or 0.0)
            meta = {**doc.meta, "question_cosine": q_score, "passage_cosine": p_score}
            meta["matched_question"] = q_text
            out.append(
                Document(id=doc.id, content=doc.content, meta=meta, score=(q_score + p_score) / 2)
            )
        out.sort(key=lambda d: d.score or 0.0, reverse=True)
        return {"documents": out}


@component
class HybridJoiner:
    """Fuses the BM25 and the embedding rankings of entries.

    "score": min-max normalised scores (BM25 divided by its best, cosines over their range),
    weighted sum. "rrf": reciprocal rank fusion (k = 60). On this corpus the score fusion ranks
    better: with ~35 entries and two retrievers, RRF ties whenever each retriever prefers a
    different entry, while the scores say which one is sure (`encombot faq eval --fusion rrf`)."""

    # Not haystack's DocumentJoiner: measured in its place on corpus/faq/eval_questions.yaml
    # (107 questions, haystack 2.x), `merge` sums raw scores, so BM25's (~10) swamp the
    # cosines: hybrid top-1 82.1 % instead of 92.6 %; `distribution_based_rank_fusion` keeps
    # the best rescaled score rather than a weighted sum: top-1 83.2 %, and the confidence
    # reads the wrong cosines (answered right 7.4 % instead of 87.4 %);
    # `reciprocal_rank_fusion` computes our "rrf" scores but breaks their many ties in
    # another order (another best entry for 5 of the 107 questions).
    def __init__(self, mode: Literal["score", "rrf"] = "score", bm25_weight: float = 0.5) -> None:
        self.mode = mode
        self.bm25_weight = bm25_weight

    @component.output_types(documents=list[Document])
    def run(self, bm25: list[Document], dense: list[Document]) -> dict[str, Any]:
        docs: dict[str, Document] = {}
        for d in [*dense, *bm25]:
            docs.setdefault(d.id, d)
        fused: dict[str, float] = dict.fromkeys(docs, 0.0)
        w = {"bm25": self.bm25_weight, "dense": 1.0 - self.bm25_weight}
        for name, ranked in (("bm25", bm25), ("dense", dense)):
            if not ranked:
                continue
            if self.mode == "rrf":
                # k = 60, scaled so that first in both rankings scores 1.0 (as the score
                # fusion does), which keeps the confidence margin comparable.
                for rank, d in enumerate(ranked):
                    fused[d.id] += w[name] * 61 / (60 + rank + 1)
                continue
            scores = [float(d.score or 0.0) for d in ranked]
            hi = max(scores)
            lo = 0.0 if name == "bm25" else min(scores)
            span = (hi - lo) or 1.0
            for d, s in zip(ranked, scores, strict=True):
                fused[d.id] += w[name] * (s - lo) / span
        out = [
            Document(id=i, content=docs[i].content, meta=docs[i].meta, score=s)
            for i, s in fused.items()
        ]
        out.sort(key=lambda d: d.score or 0.0, reverse=True)
        return {"documents": out}
