"""The `answer_question` activity: voicemail questions reach the right entry, the SMS, the
confidence, the optional generator, a worker that starts while Elasticsearch is down. The engine
(corpus, retrieval quality, stores) is tested in tests/activities/retrieval/."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import ActivityEnvironment

from activities.config import FaqGeneratorSettings, FaqSettings
from activities.faq import FaqActivities, build_faq_activities
from activities.messaging.render import render_sms
from activities.retrieval.retriever import FaqRetriever
from corpus import TEMPLATES_DIR
from domain.faq_models import FaqInput, FaqResult
from domain.sms import sms_info
from tests.activities.retrieval.common import PHONE, SERVICE
from tests.fakes.fake_elasticsearch import FakeElasticsearch

# Voicemail topics (../shared/voicemails, kind "question") -> FAQ entry.
TOPIC_ENTRY = {"dechetterie": "decheteries", "gravats": "gravats"}


@pytest.fixture(scope="session")
def faq(retriever: FaqRetriever) -> FaqActivities:
    return FaqActivities(retriever, service_name=SERVICE, agent_phone=PHONE)


# --------------------------------------------------------------------------- voicemail questions


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


@pytest.mark.parametrize(
    "question",
    [
        # Question-shaped requests for other services, as side questions of a pickup now get
        # answered by SMS: none of them may get an answer with confidence.
        "vous connaissez un électricien pas cher ?",
        "il faut que je refasse ma carte grise, vous savez où ?",
        "vous savez à quelle heure ouvre la banque ?",
    ],
)
def test_question_shaped_requests_for_other_services_go_to_an_agent(
    faq: FaqActivities, question: str
) -> None:
    assert not faq.answer(question).confident


@pytest.mark.parametrize(
    "question",
    [
        "vous avez le numéro du commissariat ?",
        "c'est quoi le numéro du commissariat de mon quartier",
        "je voudrais le téléphone de la gendarmerie",
    ],
)
def test_the_number_of_another_service_is_not_ours(faq: FaqActivities, question: str) -> None:
    # The service's own number would be a wrong answer: an agent redirects the caller.
    assert not faq.answer(question).confident


@pytest.mark.parametrize(
    "question", ["vous avez le numéro des encombrants ?", "je peux vous appeler à quel numéro ?"]
)
def test_the_number_of_the_service_is_still_answered(faq: FaqActivities, question: str) -> None:
    result = faq.answer(question)
    assert result.confident and result.entry_id == "numero"


def test_answer_is_fast_enough(faq: FaqActivities) -> None:
    import time

    started = time.monotonic()
    for _ in range(5):
        faq.answer("à quelle heure je sors mes encombrants")
    assert (time.monotonic() - started) / 5 < 1.0


# --------------------------------------------------------------------------- item questions


@pytest.fixture(scope="session")
def faq_with_items(retriever: FaqRetriever) -> FaqActivities:
    from activities.understand import load_catalogue

    return FaqActivities(
        retriever, service_name=SERVICE, agent_phone=PHONE, catalogue=load_catalogue()
    )


def test_item_questions_the_faq_does_not_name_are_answered_from_the_catalogue(
    faq: FaqActivities, faq_with_items: FaqActivities
) -> None:
    question = "Je peux mettre un radiateur avec les encombrants ?"
    # Retrieval alone answers another subject (measured: ordures ménagères, "Non, …").
    assert "radiateur" not in faq.answer(question).answer
    env = ActivityEnvironment()
    result = env.run(faq_with_items.answer_question, FaqInput(question=question, with_booking=True))
    assert (result.source, result.entry_id) == ("catalogue", "catalogue") and result.confident
    assert result.answer.startswith("Oui, nous collectons les radiateurs avec les encombrants.")
    assert "votre rendez-vous" in result.answer
    context = {"service_name": SERVICE, "agent_phone": PHONE, "answer": result.answer}
    assert render_sms(TEMPLATES_DIR / "sms", "faq_answer", context) == result.sms_text
    assert result.candidates  # the FAQ's guesses stay visible
    refused = faq_with_items.answer("Vous ramassez aussi un sac de branchages ?")
    assert refused.source == "catalogue"
    assert refused.answer.startswith("Non : les déchets verts ne sont pas collectés")
    assert "Où les déposer : en déchèterie de la Métropole, ou au compost." in refused.answer


def test_an_faq_entry_that_names_the_item_answers_first(faq_with_items: FaqActivities) -> None:
    result = faq_with_items.answer("vous prenez les pneus ?", with_booking=True)
    assert (result.source, result.entry_id) == ("faq", "pneus")
    # Not an item question: the FAQ alone, as before.
    assert faq_with_items.answer("c'est gratuit le ramassage ?").entry_id == "gratuit"
    assert not faq_with_items.answer("je voudrais refaire mon passeport").confident


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


# --------------------------------------------------------------------------- Elasticsearch down


def test_worker_starts_while_elasticsearch_is_down(faq_settings: FaqSettings) -> None:
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
