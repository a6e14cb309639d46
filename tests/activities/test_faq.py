"""FAQ answers: the corpus, retrieval quality (the numbers of issue 7), confidence, the SMS, the
optional generator, and the Elasticsearch wiring (a local stand-in; a real cluster when
ENCOMBOT_ELASTICSEARCH_URL is set).

The e5 model is loaded once per session and document embeddings come from the on-disk cache
(~/.cache/encombot/faq), so the module runs in well under a minute once that cache is warm."""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from temporalio.testing import ActivityEnvironment

from activities.config import FaqGeneratorSettings, FaqSettings
from activities.faq import (
    FaqActivities,
    FaqCorpusError,
    FaqRetriever,
    evaluate,
    faq_index_body,
    load_entries,
    load_eval_questions,
    load_values,
    parse_entry,
    render_answer_sms,
)
from activities.sms import SmsTemplateError, render_sms
from corpus import TEMPLATES_DIR
from domain.faq_models import FaqInput, FaqResult
from domain.french_analysis import words
from domain.sms import GSM7, sms_info
from tests.fakes.fake_elasticsearch import FakeElasticsearch

FAQ_DIR = FaqSettings().corpus_dir
EVAL = FAQ_DIR / "eval_questions.yaml"
HELDOUT = FAQ_DIR / "eval_heldout.yaml"
SERVICE, PHONE = "Encombrants Métropole", "0 800 94 94 94"
# Voicemail topics (../shared/voicemails, kind "question") -> FAQ entry.
TOPIC_ENTRY = {"dechetterie": "decheteries", "gravats": "gravats"}


@pytest.fixture(scope="session")
def faq_settings() -> FaqSettings:
    return FaqSettings()


@pytest.fixture(scope="session")
def retriever(faq_settings: FaqSettings) -> FaqRetriever:
    r = FaqRetriever(faq_settings)
    r.index()
    return r


@pytest.fixture(scope="session")
def faq(retriever: FaqRetriever) -> FaqActivities:
    return FaqActivities(retriever, service_name=SERVICE, agent_phone=PHONE)


def _report(name: str, report: Any) -> None:
    modes = ", ".join(f"{m} top-1 {s.top1:.1%} top-3 {s.top3:.1%}" for m, s in report.modes.items())
    print(f"\n{name}: {report.questions} questions: {modes}")


# --------------------------------------------------------------------------- corpus


def test_corpus_entries_are_complete_and_fit_three_sms() -> None:
    values = load_values(FAQ_DIR)
    entries = load_entries(FAQ_DIR, values)
    assert len(entries) >= 30
    assert len({e.id for e in entries}) == len(entries)
    topics = {e.topic for e in entries}
    assert {"objets refusés", "déchèteries", "rendez-vous", "données personnelles"} <= topics
    for entry in entries:
        assert entry.questions, entry.id
        assert "{{" not in entry.answer and "}}" not in entry.answer, entry.id
        text = render_answer_sms(entry.answer, SERVICE, PHONE)
        info = sms_info(text)
        assert info.segments <= 3, (entry.id, info)
        assert info.encoding == GSM7, entry.id
        assert entry.answer.split()[-1].rstrip(".") in text, f"{entry.id}: answer was cut"
        assert PHONE in text, entry.id


def test_configurable_values_are_declared_and_required(tmp_path: Path) -> None:
    (tmp_path / "x.md").write_text(
        "---\nid: x\ntopic: t\nlast_checked: 2026-11-01\nsource: s\nconfigurable: []\n---\n"
        "# Q ?\n\nAppelez le {{ agent_phone }}.\n",
        encoding="utf-8",
    )
    with pytest.raises(FaqCorpusError, match="configurable"):
        parse_entry(tmp_path / "x.md", {"agent_phone": "3010"})
    (tmp_path / "x.md").write_text(
        "---\nid: x\ntopic: t\nlast_checked: 2026-11-01\nsource: s\n"
        "configurable: [agent_phone]\n---\n# Q ?\n\nAppelez le {{ agent_phone }}.\n",
        encoding="utf-8",
    )
    with pytest.raises(FaqCorpusError, match="agent_phone"):
        parse_entry(tmp_path / "x.md", {})  # StrictUndefined: no SMS with a hole
    entry = parse_entry(tmp_path / "x.md", {"agent_phone": "3010"})
    assert entry.answer == "Appelez le 3010."


def test_values_overrides_reach_the_answers() -> None:
    values = load_values(FAQ_DIR, {"max_items": "4"})
    limit = next(e for e in load_entries(FAQ_DIR, values) if e.id == "limite-objets")
    assert limit.answer.startswith("Jusqu'à 4 objets")


def test_eval_set_is_large_and_not_copied_into_the_corpus() -> None:
    questions = load_eval_questions(EVAL)
    positives = [q for q in questions if q.expected]
    assert len(positives) >= 60
    assert len(questions) - len(positives) >= 10  # out-of-scope questions
    entry_ids = {e.id for e in load_entries(FAQ_DIR, load_values(FAQ_DIR))}
    assert {q.expected for q in positives} == entry_ids  # every entry is asked about
    corpus_questions = {
        " ".join(words(q))
        for e in load_entries(FAQ_DIR, load_values(FAQ_DIR))
        for q in e.all_questions
    }
    for q in [*questions, *load_eval_questions(HELDOUT)]:
        assert " ".join(words(q.question)) not in corpus_questions, q.question


def test_sms_template_is_strict() -> None:
    with pytest.raises(SmsTemplateError):
        render_sms(TEMPLATES_DIR / "sms", "faq_answer", {"service_name": SERVICE, "answer": "x"})
    text = render_sms(
        TEMPLATES_DIR / "sms",
        "faq_answer",
        {"service_name": SERVICE, "agent_phone": PHONE, "answer": "Oui."},
    )
    assert text == f"{SERVICE} : Oui. Plus d'infos : {PHONE}"
    # The number is not repeated when the answer already gives it.
    text = render_sms(
        TEMPLATES_DIR / "sms",
        "faq_answer",
        {"service_name": SERVICE, "agent_phone": PHONE, "answer": f"Appelez le {PHONE}."},
    )
    assert text.count(PHONE) == 1


def test_too_long_answer_is_cut_at_a_sentence() -> None:
    long_answer = " ".join(
        f"Phrase numéro {i} assez longue pour remplir un SMS." for i in range(20)
    )
    text = render_answer_sms(long_answer, SERVICE, PHONE)
    assert sms_info(text).segments <= 3
    assert text.endswith(f"remplir un SMS. Plus d'infos : {PHONE}")


# --------------------------------------------------------------------------- retrieval quality


def test_question_set_numbers(retriever: FaqRetriever) -> None:
    """Issue 7's targets: hybrid top-1 >= 90 %, top-3 >= 97 %, and a threshold that sends
    out-of-scope questions to an agent."""
    report = evaluate(retriever, load_eval_questions(EVAL))
    _report("eval_questions", report)
    hybrid = report.modes["hybrid"]
    assert hybrid.top1 >= 0.90, hybrid.misses
    assert hybrid.top3 >= 0.97, hybrid.misses
    # Each retriever alone does worse: the fusion is what reaches the targets.
    assert report.modes["bm25"].top1 < hybrid.top1
    assert report.modes["embedding"].top1 < hybrid.top1
    assert report.modes["bm25"].top1 >= 0.75
    assert report.modes["embedding"].top1 >= 0.75
    # Confidence at FaqSettings.min_score.
    assert report.answered_right >= 0.75
    assert report.confident_wrong <= 0.05
    assert report.out_of_scope_confident <= 0.1


def test_held_out_questions(retriever: FaqRetriever) -> None:
    report = evaluate(retriever, load_eval_questions(HELDOUT))
    _report("eval_heldout", report)
    assert report.modes["hybrid"].top1 >= 0.85
    assert report.modes["hybrid"].top3 >= 0.92
    assert report.out_of_scope_confident == 0.0


def test_bm25_alone_when_embeddings_are_off(faq_settings: FaqSettings) -> None:
    r = FaqRetriever(faq_settings.model_copy(update={"embedding": False}))
    r.index()
    report = evaluate(r, load_eval_questions(EVAL))
    _report("eval_questions, embedding off", report)
    assert list(report.modes) == ["bm25"]
    assert report.modes["bm25"].top1 >= 0.75
    assert report.modes["bm25"].top3 >= 0.90
    hit = r.rankings("vous ramassez les gravar ?").hybrid[0]
    assert hit.entry_id == "gravats"  # "gravar" corrected against the index vocabulary


def test_bm25_corrects_misspelt_terms_against_the_index(faq_settings: FaqSettings) -> None:
    r = FaqRetriever(faq_settings.model_copy(update={"embedding": False}))
    r.index()
    store = r.store
    assert store.query_terms("des parpings") == store.analyzer.analyze("des parpaings")
    assert store.query_terms("amiente") == ["amiante"]  # closest prefix wins a tie
    assert store.query_terms("un frigidere") == ["refrigerateur"]  # via the synonym
    assert store.query_terms("passeport") == ["passeport"]  # nothing close: left alone
    assert r.rankings("des parpings").bm25[0].entry_id == "gravats"


def test_fusion_modes() -> None:
    from haystack import Document

    from activities.faq import HybridJoiner

    bm25 = [Document(id="a", score=10.0), Document(id="b", score=9.0)]
    dense = [
        Document(id="b", score=0.95),
        Document(id="a", score=0.80),
        Document(id="c", score=0.7),
    ]
    scored = HybridJoiner("score").run(bm25=bm25, dense=dense)["documents"]
    # BM25 barely prefers a, the embeddings clearly prefer b: the scores say b.
    assert [d.id for d in scored] == ["b", "a", "c"]
    assert scored[0].score == pytest.approx(0.5 * 0.9 + 0.5 * 1.0)
    rrf = HybridJoiner("rrf").run(bm25=bm25, dense=dense)["documents"]
    # Ranks alone: a and b tie (first once, second once).
    assert rrf[0].score == pytest.approx(rrf[1].score)
    assert rrf[2].id == "c"
    assert HybridJoiner("rrf").run(bm25=[], dense=[])["documents"] == []


def test_voicemail_questions_reach_the_right_entry(faq: FaqActivities, shared_dir: Path) -> None:
    voicemails = json.loads((shared_dir / "voicemails" / "voicemails.json").read_text())
    questions = [v for v in voicemails if v["kind"] == "question"]
    assert questions
    for vm in questions:
        result = faq.answer(vm["text"])
        assert result.entry_id == TOPIC_ENTRY[vm["expected"]["topic"]], vm["id"]
        assert result.confident, (vm["id"], result.score)
    # The noisy-transcript example of the issue.
    result = faq.answer("Est-ce que vous prenez les gravar? J'ai des sacs de Simon")
    assert result.entry_id == "gravats" and result.confident


@pytest.mark.slow
def test_voicemail_questions_from_whisper_transcripts(
    faq: FaqActivities, shared_dir: Path, stt: Any
) -> None:
    from domain.models import TranscribeInput

    voicemails = json.loads((shared_dir / "voicemails" / "voicemails.json").read_text())
    for vm in [v for v in voicemails if v["kind"] == "question"]:
        audio = shared_dir / "voicemails" / vm["audio"]
        transcript = stt.transcribe_file(TranscribeInput(audio_path=str(audio))).text
        result = faq.answer(transcript)
        print(f"\n{vm['id']}: {transcript!r} -> {result.entry_id} ({result.score:.2f})")
        assert result.entry_id == TOPIC_ENTRY[vm["expected"]["topic"]], (vm["id"], transcript)


@pytest.mark.slow
def test_reciprocal_rank_fusion_numbers(faq_settings: FaqSettings) -> None:
    """RRF is available (`fusion: rrf`) but ranks worse on this corpus: measured, not hidden."""
    r = FaqRetriever(faq_settings.model_copy(update={"fusion": "rrf"}))
    r.index()
    report = evaluate(r, load_eval_questions(EVAL))
    _report("eval_questions, rrf fusion", report)
    assert report.modes["hybrid"].top3 >= 0.95


# --------------------------------------------------------------------------- the activity


def test_answer_question_activity(faq: FaqActivities) -> None:
    env = ActivityEnvironment()
    result = env.run(faq.answer_question, FaqInput(question="c'est gratuit le ramassage ?"))
    assert isinstance(result, FaqResult)
    assert result.entry_id == "gratuit" and result.confident
    assert result.question == "Le ramassage des encombrants est-il payant ?"
    assert result.sms_text.startswith(f"{SERVICE} : Non, l'enlèvement")
    assert PHONE in result.sms_text
    assert (result.encoding, result.segments) == sms_info(result.sms_text)[:2]
    # What the workflow sends through the SMS activity renders the same text.
    context = {"service_name": SERVICE, "agent_phone": PHONE, "answer": result.answer}
    assert render_sms(TEMPLATES_DIR / "sms", "faq_answer", context) == result.sms_text
    assert 0.0 <= result.score <= 1.0
    assert next(c.entry_id for c in result.candidates) == "gratuit"
    assert len(result.candidates) == 3


def test_out_of_scope_question_goes_to_an_agent(faq: FaqActivities) -> None:
    result = faq.answer("je voudrais refaire mon passeport")
    assert not result.confident
    assert result.entry_id  # the best guess is still shown to the agent
    assert faq.answer("   ") == FaqResult()


def test_answer_is_fast_enough(faq: FaqActivities) -> None:
    import time

    started = time.monotonic()
    for _ in range(5):
        faq.answer("à quelle heure je sors mes encombrants")
    assert (time.monotonic() - started) / 5 < 1.0


# --------------------------------------------------------------------------- generator


class _FakeChat:
    """A local OpenAI-compatible /chat/completions endpoint."""

    def __init__(self, reply: str | None, status: int = 200) -> None:
        self.reply, self.status = reply, status
        self.requests: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(
                    {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
                )
                payload = json.dumps(
                    {"choices": [{"message": {"role": "assistant", "content": fake.reply}}]}
                ).encode()
                self.send_response(fake.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def chat() -> Iterator[_FakeChat]:
    fake = _FakeChat("Non, les gravats vont en déchèterie.")
    yield fake
    fake.close()


def _with_generator(faq: FaqActivities, **gen: Any) -> FaqActivities:
    settings = faq.settings.model_copy(update={"generator": FaqGeneratorSettings(**gen)})
    return FaqActivities(faq.retriever, service_name=SERVICE, agent_phone=PHONE, settings=settings)


def test_generator_rephrases_when_configured(faq: FaqActivities, chat: _FakeChat) -> None:
    acts = _with_generator(faq, url=chat.url, model="local", api_key="k")
    result = acts.answer("vous prenez les gravats ?")
    assert result.generated and result.entry_id == "gravats"
    assert (
        result.sms_text
        == f"{SERVICE} : Non, les gravats vont en déchèterie. Plus d'infos : {PHONE}"
    )
    (req,) = chat.requests
    assert req["path"] == "/v1/chat/completions" and req["auth"] == "Bearer k"
    assert "gravats" in req["body"]["messages"][1]["content"]


def test_generator_failure_or_overlong_reply_falls_back(faq: FaqActivities) -> None:
    extractive = faq.answer("vous prenez les gravats ?").sms_text
    for fake in (_FakeChat("x", status=500), _FakeChat("très long. " * 100)):
        try:
            result = _with_generator(faq, url=fake.url, model="local").answer(
                "vous prenez les gravats ?"
            )
        finally:
            fake.close()
        assert not result.generated
        assert result.sms_text == extractive
    # Unreachable endpoint.
    result = _with_generator(faq, url="http://127.0.0.1:9/v1", timeout_s=2).answer(
        "vous prenez les gravats ?"
    )
    assert not result.generated and result.sms_text == extractive


# --------------------------------------------------------------------------- Elasticsearch


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


def test_worker_starts_while_elasticsearch_is_down(faq_settings: FaqSettings) -> None:
    from activities.faq import build_faq_activities

    with FakeElasticsearch() as es:
        url = es.url
    # The port is closed now: the worker still builds its activities (the others must run),
    # and a question fails (retried by Temporal) until Elasticsearch answers.
    settings = faq_settings.model_copy(
        update={"backend": "elasticsearch", "elasticsearch_url": url, "elasticsearch_timeout_s": 2}
    )
    acts = build_faq_activities(settings, service_name=SERVICE, agent_phone=PHONE)
    with pytest.raises(Exception, match=r"(?i)connect|refused"):
        acts.answer("vous prenez les gravats ?")


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
        _report("eval_questions, Elasticsearch", report)
        assert report.modes["hybrid"].top1 >= 0.85
        assert report.modes["hybrid"].top3 >= 0.95
    finally:
        Elasticsearch(url).indices.delete(index=index, ignore_unavailable=True)


def test_values_are_plain_strings() -> None:
    # Values are quoted into SMS as they are: strings, never numbers YAML would reformat.
    values = yaml.safe_load((FAQ_DIR / "values.yaml").read_text(encoding="utf-8"))
    assert values and all(isinstance(v, str) for v in values.values())
