"""The Elasticsearch wiring (a local stand-in; a real cluster when ENCOMBOT_ELASTICSEARCH_URL
is set)."""

from __future__ import annotations

import os
import uuid

import pytest

from activities.config import FaqSettings
from activities.faq import FaqActivities
from activities.retrieval.evaluation import evaluate, load_eval_questions
from activities.retrieval.retriever import FaqRetriever
from activities.retrieval.stores import faq_index_body
from tests.activities.retrieval.common import EVAL, PHONE, SERVICE, print_report
from tests.fakes.fake_elasticsearch import FakeElasticsearch


def test_elasticsearch_wiring_against_a_stand_in(faq_settings: FaqSettings) -> None:
    with FakeElasticsearch() as es:
        settings = faq_settings.model_copy(
            update={"backend": "elasticsearch", "elasticsearch_url": es.url}
        )
        r = FaqRetriever(settings)
        written = r.index()
        index = settings.elasticsearch_index
        # The index is created by the project, with the French analyzer and the vector field.
        create = es.requests_to("PUT", f"/{index}")[-1].body
        assert create == faq_index_body()
        analyzer = create["settings"]["analysis"]["analyzer"]["encombot_french"]
        assert "encombot_synonyms" in analyzer["filter"]
        assert create["settings"]["index"]["query"]["default_field"] == ["content"]
        props = create["mappings"]["properties"]
        assert props["content"] == {"type": "text", "analyzer": "encombot_french"}
        assert props["embedding"] == {
            "type": "dense_vector",
            "dims": 384,
            "index": True,
            "similarity": "cosine",
        }
        assert len(es.indices[index].docs) == written
        entry = es.indices[index].docs["gravats"]
        assert entry["kind"] == "entry" and len(entry["embedding"]) == 384
        assert "passage" not in entry

        es.requests.clear()
        result = FaqActivities(r, service_name=SERVICE, agent_phone=PHONE).answer(
            "est ce que vous ramassez les gravats"
        )
        searches = es.requests_to("POST", f"/{index}/_search")
        bm25 = next(s.body for s in searches if "query" in s.body)
        knn = next(s.body for s in searches if "knn" in s.body)
        match = bm25["query"]["bool"]["must"][0]["multi_match"]
        assert match["query"] == "est ce que vous ramassez les gravats"
        assert match["fuzziness"] == "AUTO"
        assert knn["knn"]["field"] == "embedding" and len(knn["knn"]["query_vector"]) == 384
        assert knn["knn"]["k"] >= written and knn["size"] == knn["knn"]["k"]
        assert len(searches) == 2  # one BM25 query, one knn query (not one per page of 10)
        assert result.entry_id == "gravats" and result.confident

        # A worker starting on an existing index neither recreates nor re-indexes it.
        es.requests.clear()
        FaqRetriever(settings).ensure_indexed()
        assert not es.requests_to("PUT", f"/{index}")
        assert not [q for q in es.requests if q.path.endswith("_bulk")]


@pytest.mark.skipif(
    not os.environ.get("ENCOMBOT_ELASTICSEARCH_URL"),
    reason="ENCOMBOT_ELASTICSEARCH_URL is not set (no Elasticsearch to test against)",
)
def test_real_elasticsearch(faq_settings: FaqSettings) -> None:
    from elasticsearch import Elasticsearch

    url = os.environ["ENCOMBOT_ELASTICSEARCH_URL"]
    index = f"encombot-faq-test-{uuid.uuid4().hex[:8]}"
    settings = faq_settings.model_copy(
        update={"backend": "elasticsearch", "elasticsearch_url": url, "elasticsearch_index": index}
    )
    try:
        r = FaqRetriever(settings)
        r.index()
        client = Elasticsearch(url)
        tokens = client.indices.analyze(
            index=index, analyzer="encombot_french", text="Les machines à laver de l'immeuble"
        )["tokens"]
        assert next(t["token"] for t in tokens) == "lavelinge"
        report = evaluate(r, load_eval_questions(EVAL))
        print_report("eval_questions, Elasticsearch", report)
        assert report.modes["hybrid"].top1 >= 0.85
        assert report.modes["hybrid"].top3 >= 0.95
    finally:
        Elasticsearch(url).indices.delete(index=index, ignore_unavailable=True)
