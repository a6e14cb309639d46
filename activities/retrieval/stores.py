"""The FAQ's document stores and their retrievers: `FrenchInMemoryDocumentStore` (embedded
default: haystack's in-memory store with the French analysis in place of its naive tokenizer)
or `FrenchElasticsearchDocumentStore` (production: creates its index itself with a French
analyzer and a dense_vector field, because haystack's store creates an index with mappings
only)."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from haystack import Document
from haystack.components.retrievers.in_memory import (
    InMemoryBM25Retriever,
    InMemoryEmbeddingRetriever,
)
from haystack.document_stores.in_memory import InMemoryDocumentStore
from haystack.document_stores.types import DuplicatePolicy

from activities.config import FaqSettings
from activities.retrieval.embedding import EMBEDDING_DIMS
from domain.french_analysis import FrenchAnalyzer, elasticsearch_analysis

# Enough to return every document of the FAQ from the dense search (entries and their ways of
# asking: ~200 today); fusion needs every entry's score, not only the top few.
DENSE_TOP_K = 1000
BM25_TOP_K = 200

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


def retrievers(store: Any, settings: FaqSettings) -> tuple[Any, Any]:
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
