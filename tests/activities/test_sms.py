"""The SMS activity against a local outbox and against a fake OVH API driven by the real `ovh`
client (requests signed and verified), including retries under ActivityEnvironment."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import ovh
import pytest
from pydantic import SecretStr
from temporalio import workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.converter import DataConverter
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Worker

from activities.config import SmsSettings
from activities.sms import (
    SMS_UNCERTAIN,
    OutboxBackend,
    OvhBackend,
    SmsActivities,
    SmsConfigError,
    SmsInFlightError,
    SmsNotFoundError,
    SmsNotSentError,
    SmsRejectedError,
    SmsTemplateError,
    SmsUncertainError,
    build_sms_backend,
    load_or_create_secret_file,
    ovh_delivery_status,
    ovh_tag,
    phone_key_secret,
    render_sms,
)
from corpus import TEMPLATES_DIR
from domain import names
from domain.errors import (
    CONFIG_ERROR,
    SMS_LOOKUP_REJECTED,
    SMS_NOT_MOBILE,
    SMS_REJECTED,
    SMS_TOO_LONG,
    TEMPLATE_ERROR,
)
from domain.models import NotifyInput, NotifyResult
from domain.phone import phone_key
from domain.sms import GSM7, sms_info
from domain.sms_models import SmsDeliveryInput, SmsDeliveryResult, SmsDeliveryStatus
from tests.fakes.fake_ovh import FakeOvhApi

SMS_TEMPLATES = TEMPLATES_DIR / "sms"
SERVICE = "Encombrants Métropole"
AGENT = "0 800 94 94 94"
MOBILE = "+33612345678"

# Long but realistic: the longest weekday + month label, a long Marseille address, two kinds of
# items, a refused item.
CONFIRMATION: dict[str, object] = {
    "reference": "AC3D4F",
    "pickup_date_label": "mercredi 30 septembre",
    "address_label": "134 avenue de la Capelette, 13010 Marseille",
    "items_label": "2 réfrigérateurs, 1 canapé",
    "refused_label": "4 pneus",
    "refused_destination": "une déchèterie",
    "cancel_hint": "Pour annuler, répondez ANNULER.",
}
# Everything at once: still within the activity's limit of 3 parts.
CONFIRMATION_EXTREME: dict[str, object] = {
    **CONFIRMATION,
    "items_label": "2 réfrigérateurs, 1 canapé, 1 matelas",
    "refused_label": "4 pneus, 2 bouteilles de gaz",
}
REFUSAL: dict[str, object] = {
    "refused_label": "gravats, 4 pneus, 1 bouteille de gaz",
    "refused_destination": "la déchèterie de Saint-Louis",
}
CONTEXTS: dict[str, dict[str, object]] = {
    "confirmation": CONFIRMATION,
    "refusal": REFUSAL,
    "question_received": {},
    "callback": {},
    "cancel_received": {},
    "faq_answer": {"answer": "Non, les gravats vont en déchèterie."},
    "address_choice": {
        "choices": [
            {"number": 1, "label": "134 avenue de la Capelette, 13010 Marseille"},
            {"number": 2, "label": "134 boulevard de la Capelette, 13010 Marseille"},
            {"number": 3, "label": "13 bis avenue de la Pointe Rouge, 13008 Marseille"},
        ]
    },
    "reminder": {
        "reference": "AC3D4F",
        "pickup_date_label": "mercredi 30 septembre",
        "address_label": "134 avenue de la Capelette, 13010 Marseille",
    },
    "cancelled": {"reference": "AC3D4F", "pickup_date_label": "mercredi 30 septembre"},
    "missed_call_invite": {},
    "missed_call_booking_status": {
        "reference": "AC3D4F",
        "pickup_date_label": "mercredi 30 septembre",
    },
}
MAX_SEGMENTS = {
    "confirmation": 2,
    "refusal": 2,
    "question_received": 1,
    "callback": 1,
    "cancel_received": 1,
    "faq_answer": 3,
    "address_choice": 3,
    "reminder": 2,
    "cancelled": 2,
    "missed_call_invite": 2,
    "missed_call_booking_status": 2,
}


@pytest.fixture
def fake_ovh() -> Iterator[FakeOvhApi]:
    with FakeOvhApi() as fake:
        yield fake


def make_activities(backend: Any, tmp_path: Path, **kwargs: Any) -> SmsActivities:
    return SmsActivities(
        backend, SMS_TEMPLATES, tmp_path / "ledger.sqlite", SERVICE, AGENT, **kwargs
    )


def confirmation(key: str = "voicemail-42:confirmation", to: str = MOBILE) -> NotifyInput:
    return NotifyInput(idempotency_key=key, to=to, template="confirmation", context=CONFIRMATION)


def run(activities: SmsActivities, inp: NotifyInput) -> NotifyResult:
    return ActivityEnvironment().run(activities.send_sms, inp)


def run_with_retries(
    activities: SmsActivities, inp: NotifyInput, max_attempts: int = 10
) -> tuple[NotifyResult, list[BaseException]]:
    """Temporal's retry loop, minus the backoff: retry on any error except a non-retryable
    ApplicationError. Returns the result and the errors of the failed attempts."""
    errors: list[BaseException] = []
    for _ in range(max_attempts):
        try:
            return run(activities, inp), errors
        except ApplicationError as err:
            if err.non_retryable:
                raise
            errors.append(err)
        except Exception as err:
            errors.append(err)
    raise AssertionError(f"still failing after {max_attempts} attempts: {errors}")


def expect_application_error(fn: Callable[[], object], error_type: str) -> ApplicationError:
    with pytest.raises(ApplicationError) as info:
        fn()
    assert info.value.type == error_type
    assert info.value.non_retryable
    return info.value


# --------------------------------------------------------------------------- templates


@pytest.mark.parametrize("name", sorted(CONTEXTS))
def test_every_template_renders_within_its_limit(name: str) -> None:
    context = {"service_name": SERVICE, "agent_phone": AGENT, **CONTEXTS[name]}
    text = render_sms(SMS_TEMPLATES, name, context)
    info = sms_info(text)
    assert info.encoding == GSM7, text
    assert info.segments <= MAX_SEGMENTS[name], (info, text)
    assert SERVICE in text and AGENT in text
    assert "  " not in text and "\n" not in text


def test_template_files_are_all_covered() -> None:
    assert {p.stem for p in SMS_TEMPLATES.glob("*.j2")} == set(CONTEXTS)
    assert {p.stem for p in SMS_TEMPLATES.glob("*.j2")} == {c.template for c in WORST_CASES}


# The longest street names of Marseille (BAN), with a "bis" number; a 47-character one full of
# letters GSM-7 lacks (è is in it, ç and É... are folded only when that saves a part).
LONGEST_ADDRESS = (
    "44 bis Chemin départemental numéro 44 de la Valentine au Logis Neuf, 13011 Marseille"
)
ACCENTED_ADDRESS = "12 Rond-Point Première Armée Française Rhin-Danube, 13008 Marseille"
LONG_DATE = "mercredi 30 septembre"  # the longest weekday + month label


@dataclass
class WorstCase:
    label: str
    template: str
    max_segments: int
    context: dict[str, object] = field(default_factory=dict)


BOOKED: dict[str, object] = {
    "reference": "AC3D4F",
    "pickup_date_label": LONG_DATE,
    "address_label": LONGEST_ADDRESS,
    "items_label": "2 réfrigérateurs, 1 canapé",
    "refused_label": "",
    "refused_destination": "",
    "cancel_hint": "Pour annuler, répondez ANNULER.",
}
PARTIAL = {"refused_label": "4 pneus", "refused_destination": "une déchèterie"}
WORST_CASES = [
    WorstCase("confirmation", "confirmation", 2, BOOKED),
    WorstCase(
        "confirmation (accents)", "confirmation", 2, {**BOOKED, "address_label": ACCENTED_ADDRESS}
    ),
    WorstCase(
        "confirmation + refus partiel",
        "confirmation",
        2,
        {**BOOKED, **PARTIAL, "address_label": ACCENTED_ADDRESS},
    ),
    # The longest address of the territory and a refused item: the refusal sentence is what
    # the caller must act on, so it stays whole, at the cost of a third part. Two parts hold
    # up to a 70-character address label.
    WorstCase(
        "confirmation + refus partiel (adresse record)", "confirmation", 3, {**BOOKED, **PARTIAL}
    ),
    WorstCase(
        "refus",
        "refusal",
        2,
        {
            "refused_label": "gravats, 4 pneus, 2 bouteilles de gaz, 1 batterie de voiture",
            "refused_destination": "la déchèterie de Saint-Louis, 13015 Marseille",
        },
    ),
    WorstCase(
        "rappel la veille",
        "reminder",
        2,
        {"reference": "AC3D4F", "pickup_date_label": LONG_DATE, "address_label": LONGEST_ADDRESS},
    ),
    # The optional hour to put the items out costs a third part with the record address.
    WorstCase(
        "rappel + heure de sortie",
        "reminder",
        3,
        {
            "reference": "AC3D4F",
            "pickup_date_label": LONG_DATE,
            "address_label": LONGEST_ADDRESS,
            "put_out_hint": "ce soir après 19 h ou demain matin avant 6 h",
        },
    ),
    WorstCase(
        "annulation confirmée",
        "cancelled",
        2,
        {"reference": "AC3D4F", "pickup_date_label": LONG_DATE},
    ),
    WorstCase(
        "quelle adresse ?",
        "address_choice",
        3,
        {
            "choices": [
                {"number": 1, "label": LONGEST_ADDRESS},
                {"number": 2, "label": ACCENTED_ADDRESS},
                {
                    "number": 3,
                    "label": "13 Avenue de la Marche Pour l’Égalité et Contre le Racisme, "
                    "13015 Marseille",
                },
            ]
        },
    ),
    WorstCase("appel manqué : invitation", "missed_call_invite", 2),
    WorstCase(
        "appel manqué : rendez-vous déjà pris",
        "missed_call_booking_status",
        2,
        {"reference": "AC3D4F", "pickup_date_label": LONG_DATE},
    ),
    WorstCase("question reçue", "question_received", 1),
    WorstCase("un conseiller rappelle", "callback", 1),
    WorstCase("annulation demandée (message vocal)", "cancel_received", 1),
    WorstCase(
        "réponse FAQ",
        "faq_answer",
        3,
        {
            "answer": (
                "Sortez vos encombrants la veille au soir après 19 h ou le matin du passage "
                "avant 6 h, devant votre adresse, sur le trottoir au pied de l'immeuble ou de la "
                "maison, accessibles au camion, en laissant passer les piétons. Les agents "
                "n'entrent pas dans les logements, les caves ni les cours."
            )
        },
    ),
]


def test_every_template_worst_case_encoding_and_segments(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Every template with the longest realistic values; prints the table of the closing note
    (pytest -s)."""
    rows = []
    for case in WORST_CASES:
        context = {"service_name": SERVICE, "agent_phone": AGENT, **case.context}
        text = render_sms(SMS_TEMPLATES, case.template, context)
        info = sms_info(text)
        rows.append((case.label, case.template, info.encoding, info.segments, info.length))
        assert info.encoding == GSM7, (case.label, text)
        assert info.segments <= case.max_segments, (case.label, info, text)
        assert AGENT in text and SERVICE in text
    with capsys.disabled():
        print("\n| cas | modèle | codage | segments | caractères |")
        print("|---|---|---|---|---|")
        for label, template, encoding, segments, length in rows:
            print(f"| {label} | {template}.j2 | {encoding} | {segments} | {length} |")


def test_reminder_and_cancelled_content() -> None:
    base = {"service_name": SERVICE, "agent_phone": AGENT, "reference": "AC3D4F"}
    reminder = render_sms(
        SMS_TEMPLATES,
        "reminder",
        {**base, "pickup_date_label": "jeudi 1er octobre", "address_label": "12 Boulevard Chave"},
    )
    assert "demain, jeudi 1er octobre" in reminder and "12 Boulevard Chave" in reminder
    assert "Réf. AC3D4F" in reminder and "répondez ANNULER" in reminder
    cancelled = render_sms(
        SMS_TEMPLATES, "cancelled", {**base, "pickup_date_label": "jeudi 1er octobre"}
    )
    assert "AC3D4F" in cancelled and "annulé" in cancelled and "libéré" in cancelled
    assert "nouveau rendez-vous" in cancelled


def test_confirmation_content() -> None:
    text = render_sms(
        SMS_TEMPLATES,
        "confirmation",
        {"service_name": SERVICE, "agent_phone": AGENT, **CONFIRMATION},
    )
    for value in CONFIRMATION.values():
        assert str(value) in text
    assert "Non collectés : 4 pneus" in text


def test_confirmation_without_refused_items_has_no_refusal_sentence() -> None:
    context = {"service_name": SERVICE, "agent_phone": AGENT, **CONFIRMATION}
    context.update(refused_label="", refused_destination="")
    text = render_sms(SMS_TEMPLATES, "confirmation", context)
    assert "Non collectés" not in text and "déposer" not in text
    assert sms_info(text).segments <= 2


def test_confirmation_extreme_values_stay_within_three_parts() -> None:
    context = {"service_name": SERVICE, "agent_phone": AGENT, **CONFIRMATION_EXTREME}
    assert sms_info(render_sms(SMS_TEMPLATES, "confirmation", context)).segments <= 3


def test_august_is_folded_when_it_would_double_the_cost() -> None:
    context = {"service_name": SERVICE, "agent_phone": AGENT, **CONFIRMATION}
    context["pickup_date_label"] = "samedi 1er août"
    text = render_sms(SMS_TEMPLATES, "confirmation", context)
    assert "samedi 1er aout" in text
    assert sms_info(text).encoding == GSM7 and sms_info(text).segments == 2


def test_missing_variable_is_a_template_error() -> None:
    context = {"service_name": SERVICE, "agent_phone": AGENT, **CONFIRMATION}
    del context["reference"]
    with pytest.raises(SmsTemplateError, match="reference"):
        render_sms(SMS_TEMPLATES, "confirmation", context)


def test_strict_undefined_through_the_activity(tmp_path: Path) -> None:
    outbox = OutboxBackend(tmp_path / "outbox.jsonl")
    activities = make_activities(outbox, tmp_path)
    context = dict(CONFIRMATION)
    del context["address_label"]
    inp = NotifyInput("k-missing", MOBILE, "confirmation", context)
    err = expect_application_error(lambda: run(activities, inp), TEMPLATE_ERROR)
    assert "address_label" in str(err)
    assert outbox.messages() == []
    assert activities.ledger.get("k-missing") is None


@pytest.mark.parametrize("name", ["nope", "../confirmation", "Confirmation", "callback.j2"])
def test_unknown_or_invalid_template_name(tmp_path: Path, name: str) -> None:
    activities = make_activities(OutboxBackend(tmp_path / "outbox.jsonl"), tmp_path)
    inp = NotifyInput("k-name", MOBILE, name, {})
    expect_application_error(lambda: run(activities, inp), TEMPLATE_ERROR)


def test_too_long_is_refused(tmp_path: Path) -> None:
    outbox = OutboxBackend(tmp_path / "outbox.jsonl")
    activities = make_activities(outbox, tmp_path, max_segments=1)
    err = expect_application_error(lambda: run(activities, confirmation()), SMS_TOO_LONG)
    assert "2 segments" in str(err)
    assert outbox.messages() == []


def test_context_overrides_service_defaults(tmp_path: Path) -> None:
    outbox = OutboxBackend(tmp_path / "outbox.jsonl")
    activities = make_activities(outbox, tmp_path)
    inp = NotifyInput("k-cb", MOBILE, "callback", {"agent_phone": "04 91 00 00 00"})
    assert "04 91 00 00 00" in run(activities, inp).text


# --------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    "number",
    ["04 91 12 34 56", "+33491123456", "09 70 12 34 56", "0 800 94 94 94", "3949", "pas de numéro"],
)
def test_non_mobile_numbers_are_refused(tmp_path: Path, number: str) -> None:
    outbox = OutboxBackend(tmp_path / "outbox.jsonl")
    activities = make_activities(outbox, tmp_path)
    err = expect_application_error(lambda: run(activities, confirmation(to=number)), SMS_NOT_MOBILE)
    assert number not in str(err)
    assert outbox.messages() == []


def test_number_is_normalised_to_e164(tmp_path: Path) -> None:
    outbox = OutboxBackend(tmp_path / "outbox.jsonl")
    activities = make_activities(outbox, tmp_path)
    run(activities, confirmation(to="06 12 34 56 78"))
    assert [m["to"] for m in outbox.messages()] == [MOBILE]


# --------------------------------------------------------------------------- outbox, ledger


def test_outbox_line_format(tmp_path: Path) -> None:
    outbox = OutboxBackend(tmp_path / "sub" / "outbox.jsonl")
    activities = make_activities(outbox, tmp_path)
    result = run(activities, confirmation())
    lines = (tmp_path / "sub" / "outbox.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert set(record) == {"id", "to", "text", "key", "at"}
    assert record["id"] == result.message_id
    assert record["text"] == result.text
    assert record["key"] == "voicemail-42:confirmation"
    assert result.backend == "outbox" and not result.duplicate
    assert (result.encoding, result.segments) == (GSM7, 2)


def test_outbox_is_safe_with_threads(tmp_path: Path) -> None:
    outbox = OutboxBackend(tmp_path / "outbox.jsonl")

    def worker(n: int) -> None:
        for i in range(25):
            outbox.send(MOBILE, f"message {n}-{i} " + "é" * 200, f"k-{n}-{i}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    messages = outbox.messages()
    assert len(messages) == 200
    assert len({m["id"] for m in messages}) == 200
    assert outbox.find(MOBILE, "", "k-3-7") is not None
    assert outbox.find(MOBILE, "", "k-unknown") is None


def test_ledger_prevents_double_sending(tmp_path: Path) -> None:
    outbox = OutboxBackend(tmp_path / "outbox.jsonl")
    activities = make_activities(outbox, tmp_path)
    first = run(activities, confirmation())
    again = run(activities, confirmation())
    assert len(outbox.messages()) == 1
    assert again.duplicate and not first.duplicate
    assert again.message_id == first.message_id
    assert again.text == first.text
    # Another activity instance (another worker process) on the same ledger file.
    other = make_activities(OutboxBackend(tmp_path / "outbox.jsonl"), tmp_path)
    assert run(other, confirmation()).duplicate
    assert len(outbox.messages()) == 1
    # A different key is a different SMS.
    run(activities, confirmation(key="voicemail-43:confirmation"))
    assert len(outbox.messages()) == 2


def test_ledger_holds_no_personal_data(tmp_path: Path) -> None:
    activities = make_activities(OutboxBackend(tmp_path / "outbox.jsonl"), tmp_path)
    run(activities, confirmation())
    raw = (tmp_path / "ledger.sqlite").read_bytes()
    assert MOBILE.encode() not in raw and b"612345678" not in raw
    assert b"Capelette" not in raw


def test_concurrent_attempts_send_once(tmp_path: Path) -> None:
    outbox = OutboxBackend(tmp_path / "outbox.jsonl")
    activities = make_activities(outbox, tmp_path)
    outcomes: list[object] = []
    lock = threading.Lock()

    def attempt() -> None:
        try:
            result: object = run(activities, confirmation())
        except Exception as err:
            result = err
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(outbox.messages()) == 1
    fresh = [o for o in outcomes if isinstance(o, NotifyResult) and not o.duplicate]
    assert len(fresh) == 1
    # The others either saw it sent or backed off while it was in flight (retryable).
    for o in outcomes:
        assert isinstance(o, NotifyResult | SmsInFlightError), o


class FlakyBackend:
    """Fails like a timeout after the request left, then works. No `find`."""

    name = "flaky"

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.fail = True

    def send(self, to: str, text: str, idempotency_key: str) -> str:
        self.sent.append(text)
        if self.fail:
            raise TimeoutError("read timed out")
        return f"flaky-{len(self.sent)}"


def test_unknown_outcome_without_lookup_goes_to_a_person(tmp_path: Path) -> None:
    backend = FlakyBackend()
    activities = make_activities(backend, tmp_path)
    with pytest.raises(TimeoutError):
        run(activities, confirmation())
    assert activities.ledger.get("voicemail-42:confirmation")["state"] == "unknown"  # type: ignore[index]
    backend.fail = False
    expect_application_error(lambda: run(activities, confirmation()), SMS_UNCERTAIN)
    assert len(backend.sent) == 1


def test_crashed_attempt_is_in_flight_then_reconciled(tmp_path: Path) -> None:
    outbox = OutboxBackend(tmp_path / "outbox.jsonl")
    # A worker died between the provider call and the ledger update: the outbox has the
    # message, the ledger still says "sending".
    outbox.send(MOBILE, "texte", "voicemail-42:confirmation")
    busy = make_activities(outbox, tmp_path, inflight_lease_s=3600)
    busy.ledger.claim("voicemail-42:confirmation", "outbox", "x")
    with pytest.raises(SmsInFlightError):
        run(busy, confirmation())
    # Once the lease is over, the attempt asks the outbox and does not send again.
    expired = make_activities(outbox, tmp_path, inflight_lease_s=0)
    result = run(expired, confirmation())
    assert result.duplicate
    assert len(outbox.messages()) == 1
    assert expired.ledger.get("voicemail-42:confirmation")["state"] == "sent"  # type: ignore[index]


def test_crashed_attempt_that_never_sent_is_sent_once(tmp_path: Path) -> None:
    outbox = OutboxBackend(tmp_path / "outbox.jsonl")
    activities = make_activities(outbox, tmp_path, inflight_lease_s=0)
    activities.ledger.claim("voicemail-42:confirmation", "outbox", "x")
    result = run(activities, confirmation())
    assert not result.duplicate
    assert len(outbox.messages()) == 1
    assert activities.ledger.get("voicemail-42:confirmation")["attempts"] == 2  # type: ignore[index]


# --------------------------------------------------------------------------- OVH


def test_ovh_request_is_signed_and_complete(fake_ovh: FakeOvhApi, tmp_path: Path) -> None:
    activities = make_activities(OvhBackend(fake_ovh.settings()), tmp_path)
    result = run(activities, confirmation())
    assert fake_ovh.rejected == []
    [job] = fake_ovh.jobs
    assert result.message_id == str(job.id) and result.backend == "ovh"
    assert job.body == {
        "message": result.text,
        "receivers": [MOBILE],
        "charset": "UTF-8",
        "coding": "7bit",
        "noStopClause": True,
        "priority": "high",
        "senderForResponse": True,
        "tag": ovh_tag("voicemail-42:confirmation"),
    }
    assert job.credits == result.segments == 2
    # The client fetched the server time once, then signed the job.
    assert fake_ovh.requests[:2] == [
        ("GET", "/auth/time"),
        ("POST", f"/sms/{fake_ovh.service_name}/jobs"),
    ]


def test_ovh_sender_and_unicode_coding(fake_ovh: FakeOvhApi) -> None:
    backend = OvhBackend(fake_ovh.settings(endpoint="fake-ovh-sender", sender="AMPMETRO"))
    backend.send(MOBILE, "Votre demande est bien reçue.", "k-sender")
    [job] = fake_ovh.jobs
    assert job.body["sender"] == "AMPMETRO"
    assert "senderForResponse" not in job.body
    assert job.body["coding"] == "8bit"


def test_ovh_client_follows_server_clock() -> None:
    with FakeOvhApi(clock_offset_s=-3600) as fake:
        OvhBackend(fake.settings(endpoint="fake-ovh-clock")).send(MOBILE, "Bonjour", "k-clock")
        assert len(fake.jobs) == 1
        # A client that ignores the server clock is refused, like on the real API.
        client = ovh.Client(
            endpoint="fake-ovh-clock",
            application_key=fake.application_key,
            application_secret=fake.application_secret,
            consumer_key=fake.consumer_key,
        )
        client._time_delta = 0
        with pytest.raises(ovh.exceptions.APIError, match="Query out of time"):
            client.get("/sms")


def test_ovh_wrong_secret_is_rejected_not_retried(fake_ovh: FakeOvhApi, tmp_path: Path) -> None:
    secret = "not-the-secret-at-all"
    settings = fake_ovh.settings(endpoint="fake-ovh-bad", application_secret=SecretStr(secret))
    activities = make_activities(OvhBackend(settings), tmp_path)
    err = expect_application_error(lambda: run(activities, confirmation()), SMS_REJECTED)
    assert "403" in str(err) and "Invalid signature" in str(err)
    assert secret not in str(err) and "612345678" not in str(err)
    assert fake_ovh.rejected == [(403, "Invalid signature")]
    assert fake_ovh.jobs == []
    assert activities.ledger.get("voicemail-42:confirmation")["state"] == "failed"  # type: ignore[index]


def test_ovh_unknown_consumer_key_is_rejected(fake_ovh: FakeOvhApi, tmp_path: Path) -> None:
    settings = fake_ovh.settings(endpoint="fake-ovh-ck", consumer_key=SecretStr("revoked"))
    activities = make_activities(OvhBackend(settings), tmp_path)
    err = expect_application_error(lambda: run(activities, confirmation()), SMS_REJECTED)
    assert "INVALID_CREDENTIAL" in str(err)


def test_ovh_503_twice_then_ok_sends_exactly_once(fake_ovh: FakeOvhApi, tmp_path: Path) -> None:
    activities = make_activities(OvhBackend(fake_ovh.settings()), tmp_path)
    fake_ovh.fail_next(503, times=2)
    result, errors = run_with_retries(activities, confirmation())
    assert [type(e) for e in errors] == [SmsNotSentError, SmsNotSentError]
    assert "503" in str(errors[0])
    assert not result.duplicate
    assert len(fake_ovh.jobs) == 1 and result.message_id == str(fake_ovh.jobs[0].id)
    row = activities.ledger.get("voicemail-42:confirmation")
    assert row is not None and row["state"] == "sent" and row["attempts"] == 3
    # A later replay of the same step (workflow reset, duplicate task) sends nothing.
    again = run(activities, confirmation())
    assert again.duplicate and again.message_id == result.message_id
    assert len(fake_ovh.jobs) == 1
    posts = [r for r in fake_ovh.requests if r[0] == "POST"]
    assert len(posts) == 3


def test_ovh_400_is_not_retried(fake_ovh: FakeOvhApi, tmp_path: Path) -> None:
    activities = make_activities(OvhBackend(fake_ovh.settings()), tmp_path)
    fake_ovh.fail_next(400, message="Invalid receiver +33612345678", error_code="INVALID_RECEIVER")
    err = expect_application_error(
        lambda: run_with_retries(activities, confirmation()), SMS_REJECTED
    )
    assert "HTTP 400" in str(err)
    assert "612345678" not in str(err)  # numbers in provider messages are redacted
    assert fake_ovh.jobs == []


def test_ovh_invalid_receiver_is_a_rejection(fake_ovh: FakeOvhApi, tmp_path: Path) -> None:
    activities = make_activities(OvhBackend(fake_ovh.settings()), tmp_path)
    fake_ovh.invalid_receivers.add(MOBILE)
    err = expect_application_error(lambda: run(activities, confirmation()), SMS_REJECTED)
    assert "destinataire" in str(err)


@pytest.mark.parametrize("status", [500, 502, 429])
def test_ovh_transient_statuses_are_retried(
    fake_ovh: FakeOvhApi, tmp_path: Path, status: int
) -> None:
    activities = make_activities(OvhBackend(fake_ovh.settings()), tmp_path)
    fake_ovh.fail_next(status)
    result, errors = run_with_retries(activities, confirmation())
    assert len(errors) == 1 and isinstance(errors[0], SmsNotSentError)
    assert len(fake_ovh.jobs) == 1 and not result.duplicate


@pytest.mark.parametrize("pending", [False, True])
def test_ovh_lost_answer_is_reconciled_not_resent(
    fake_ovh: FakeOvhApi, tmp_path: Path, pending: bool
) -> None:
    """The job went through but the answer was lost: the retry finds it (outgoing by tag, or
    the pending jobs) and sends nothing."""
    fake_ovh.keep_pending = pending
    activities = make_activities(OvhBackend(fake_ovh.settings()), tmp_path)
    fake_ovh.drop_next()
    result, errors = run_with_retries(activities, confirmation())
    assert [type(e) for e in errors] == [SmsUncertainError]
    assert len(fake_ovh.jobs) == 1
    assert result.duplicate and result.message_id == str(fake_ovh.jobs[0].id)
    assert activities.ledger.get("voicemail-42:confirmation")["state"] == "sent"  # type: ignore[index]


def test_ovh_unreachable_is_retryable_and_not_sent(tmp_path: Path) -> None:
    fake = FakeOvhApi().start()
    settings = fake.settings(endpoint="fake-ovh-down")
    fake.stop()
    activities = make_activities(OvhBackend(settings), tmp_path)
    with pytest.raises(SmsNotSentError):
        run(activities, confirmation())
    assert activities.ledger.get("voicemail-42:confirmation")["state"] == "failed"  # type: ignore[index]


def test_ovh_incoming_and_delivery_routes(fake_ovh: FakeOvhApi) -> None:
    backend = OvhBackend(fake_ovh.settings())
    job_id = backend.send(MOBILE, "Bonjour", "k-routes")
    fake_ovh.set_delivery_receipt(int(job_id), 1)
    incoming_id = fake_ovh.add_incoming(MOBILE, "ANNULER")
    client = ovh.Client(
        endpoint="fake-ovh",
        application_key=fake_ovh.application_key,
        application_secret=fake_ovh.application_secret,
        consumer_key=fake_ovh.consumer_key,
    )
    base = f"/sms/{fake_ovh.service_name}"
    assert client.get(f"{base}/outgoing/{job_id}")["deliveryReceipt"] == 1
    assert client.get(f"{base}/incoming", sender=MOBILE) == [incoming_id]
    assert client.get(f"{base}/incoming/{incoming_id}")["message"] == "ANNULER"
    client.delete(f"{base}/incoming/{incoming_id}")
    assert client.get(f"{base}/incoming") == []
    with pytest.raises(ovh.exceptions.ResourceNotFoundError):
        client.get("/sms/sms-other-1/jobs")


# --------------------------------------------------------------------------- wiring


def test_build_sms_backend(fake_ovh: FakeOvhApi, tmp_path: Path) -> None:
    outbox = build_sms_backend(SmsSettings(outbox_path=tmp_path / "o.jsonl"))
    assert isinstance(outbox, OutboxBackend) and outbox.path == tmp_path / "o.jsonl"
    backend = build_sms_backend(SmsSettings(backend="ovh", ovh=fake_ovh.settings()))
    assert isinstance(backend, OvhBackend)
    with pytest.raises(SmsConfigError):
        build_sms_backend(SmsSettings(backend="ovh"))  # no credentials
    with pytest.raises(SmsConfigError):
        build_sms_backend(SmsSettings(backend="ovh", ovh=fake_ovh.settings(service_name="")))


# --------------------------------------------------------------------------- real Temporal


@workflow.defn(name="SmsOnceTestWorkflow", sandboxed=False)
class SmsOnceWorkflow:
    """Just the SMS step, with Temporal's own retry policy (fast backoff)."""

    @workflow.run
    async def run(self, inp: NotifyInput) -> NotifyResult:
        return await workflow.execute_activity(
            names.SEND_SMS,
            inp,
            result_type=NotifyResult,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=50)),
        )


def _notify_input_round_trips() -> bool:
    """Temporal's converter cannot decode a `dict[str, object]` field (it needs `Any`); until
    NotifyInput.context says `dict[str, Any]`, no worker can decode the activity input."""
    converter = DataConverter.default.payload_converter
    try:
        payloads = converter.to_payloads([NotifyInput("k", MOBILE, "callback", {"a": "b"})])
        converter.from_payloads(payloads, [NotifyInput])
    except Exception:
        return False
    return True


@pytest.mark.skipif(
    not _notify_input_round_trips(),
    reason="NotifyInput.context is dict[str, object]: Temporal cannot decode it (needs Any)",
)
async def test_temporal_retries_503_and_the_sms_leaves_once(
    client: Client, unique_queue: str, fake_ovh: FakeOvhApi, tmp_path: Path
) -> None:
    activities = make_activities(OvhBackend(fake_ovh.settings()), tmp_path)
    fake_ovh.fail_next(503, times=2)
    with ThreadPoolExecutor(4) as executor:
        async with Worker(
            client,
            task_queue=unique_queue,
            workflows=[SmsOnceWorkflow],
            activities=[activities.send_sms],
            activity_executor=executor,
        ):
            handle = await client.start_workflow(
                SmsOnceWorkflow.run,
                confirmation(key=f"{unique_queue}:confirmation"),
                id=f"sms-once-{unique_queue}",
                task_queue=unique_queue,
            )
            result = await handle.result()
            # Same key from a second workflow run (e.g. a reset): nothing leaves.
            again = await client.execute_workflow(
                SmsOnceWorkflow.run,
                confirmation(key=f"{unique_queue}:confirmation"),
                id=f"sms-once-{unique_queue}-again",
                task_queue=unique_queue,
            )
    assert len(fake_ovh.jobs) == 1
    assert result.message_id == str(fake_ovh.jobs[0].id) and not result.duplicate
    assert again.duplicate and again.message_id == result.message_id
    failed = [
        e
        async for e in handle.fetch_history_events()
        if e.HasField("activity_task_started_event_attributes")
    ]
    assert failed[-1].activity_task_started_event_attributes.attempt == 3


# --------------------------------------------------------------------------- phone keys

SECRET = b"k" * 32


def test_send_returns_the_recipient_phone_key(tmp_path: Path) -> None:
    outbox = OutboxBackend(tmp_path / "outbox.jsonl")
    activities = make_activities(outbox, tmp_path, phone_key_secret=SECRET)
    result = run(activities, confirmation(to="06 12 34 56 78"))
    assert result.phone_key == phone_key(MOBILE, SECRET)
    assert len(result.phone_key) == 32 and MOBILE not in result.phone_key
    # The same key on a replay (a duplicate), whatever the way the number was written.
    again = run(activities, confirmation(to="+33 6 12 34 56 78"))
    assert again.duplicate and again.phone_key == result.phone_key
    # No secret, no key.
    plain = make_activities(outbox, tmp_path / "other")
    assert run(plain, confirmation(key="k-nokey")).phone_key == ""


def test_phone_key_secret_file_is_created_once_private_and_shared(tmp_path: Path) -> None:
    path = tmp_path / "var" / "sms-phone-key.secret"
    results: list[bytes] = []
    lock = threading.Lock()

    def load() -> None:
        secret = load_or_create_secret_file(path)
        with lock:
            results.append(secret)

    threads = [threading.Thread(target=load) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1 and len(results[0]) == 32
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left
    # Through the settings: the file under data_dir by default, the configured secret first.
    assert phone_key_secret(SmsSettings(), tmp_path / "var") == results[0]
    configured = SmsSettings(phone_key_secret=SecretStr("s3cret-s3cret-s3cret"))
    assert phone_key_secret(configured, tmp_path / "var") == b"s3cret-s3cret-s3cret"
    with pytest.raises(SmsConfigError, match="16"):
        phone_key_secret(SmsSettings(phone_key_secret=SecretStr("short")), tmp_path)
    elsewhere = SmsSettings(phone_key_file=tmp_path / "k" / "key")
    assert phone_key_secret(elsewhere, tmp_path / "var") != results[0]


def test_unreadable_phone_key_secret_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.secret"
    path.write_text("not hex\n")
    with pytest.raises(SmsConfigError, match="illisible"):
        load_or_create_secret_file(path)
    path.write_text("abcd\n")
    with pytest.raises(SmsConfigError, match="trop court"):
        load_or_create_secret_file(path)


# --------------------------------------------------------------------------- delivery


def check(activities: SmsActivities, message_id: str, backend: str = "") -> SmsDeliveryResult:
    return ActivityEnvironment().run(
        activities.check_sms_delivery, SmsDeliveryInput(message_id, backend)
    )


@pytest.mark.parametrize(
    ("receipt", "ptt", "status"),
    [
        (0, 0, SmsDeliveryStatus.PENDING),
        (4, 0, SmsDeliveryStatus.PENDING),
        (8, 0, SmsDeliveryStatus.PENDING),
        (1, 0, SmsDeliveryStatus.DELIVERED),
        (2, 13, SmsDeliveryStatus.FAILED),
        (16, 2, SmsDeliveryStatus.FAILED),
    ],
)
def test_ovh_delivery_report(
    fake_ovh: FakeOvhApi, tmp_path: Path, receipt: int, ptt: int, status: str
) -> None:
    activities = make_activities(OvhBackend(fake_ovh.settings()), tmp_path)
    sent = run(activities, confirmation())
    fake_ovh.set_delivery(sent.message_id, receipt, ptt)
    result = check(activities, sent.message_id, "ovh")
    assert (result.status, result.message_id) == (status, sent.message_id)
    assert f"accusé de réception {receipt}" in result.detail
    assert (f"code PTT {ptt}" in result.detail) == bool(ptt)
    assert "612345678" not in result.detail
    path = f"/sms/{fake_ovh.service_name}/outgoing/{sent.message_id}"
    assert ("GET", path) in fake_ovh.requests and fake_ovh.rejected == []


def test_ovh_job_still_queued_is_pending(fake_ovh: FakeOvhApi, tmp_path: Path) -> None:
    fake_ovh.keep_pending = True
    activities = make_activities(OvhBackend(fake_ovh.settings()), tmp_path)
    sent = run(activities, confirmation())
    result = check(activities, sent.message_id)
    assert result.status == SmsDeliveryStatus.PENDING and "file d'attente" in result.detail
    fake_ovh.flush_pending()
    fake_ovh.set_delivery(sent.message_id, 1)
    assert check(activities, sent.message_id).status == SmsDeliveryStatus.DELIVERED


def test_ovh_message_unknown_everywhere_is_failed(fake_ovh: FakeOvhApi, tmp_path: Path) -> None:
    activities = make_activities(OvhBackend(fake_ovh.settings()), tmp_path)
    sent = run(activities, confirmation())
    fake_ovh.forget_job(sent.message_id)
    result = check(activities, sent.message_id)
    assert result.status == SmsDeliveryStatus.FAILED and "inconnu" in result.detail


def test_ovh_delivery_4xx_is_permanent_5xx_retried(fake_ovh: FakeOvhApi, tmp_path: Path) -> None:
    activities = make_activities(OvhBackend(fake_ovh.settings()), tmp_path)
    sent = run(activities, confirmation())
    fake_ovh.set_delivery(sent.message_id, 1)
    fake_ovh.fail_next(503, times=2, method="GET", path=r"/outgoing/")
    for _ in range(2):
        with pytest.raises(SmsNotSentError, match="503"):
            check(activities, sent.message_id)
    assert check(activities, sent.message_id).status == SmsDeliveryStatus.DELIVERED
    fake_ovh.fail_next(403, method="GET", path=r"/outgoing/", error_code="NOT_GRANTED_CALL")
    err = expect_application_error(lambda: check(activities, sent.message_id), SMS_LOOKUP_REJECTED)
    assert "403" in str(err)


def test_ovh_delivery_unreachable_is_retryable(tmp_path: Path) -> None:
    fake = FakeOvhApi().start()
    settings = fake.settings(endpoint="fake-ovh-down-dlr")
    fake.stop()
    activities = make_activities(OvhBackend(settings), tmp_path)
    with pytest.raises(SmsNotSentError):
        check(activities, "100001")


def test_delivery_of_another_backend_cannot_be_checked(tmp_path: Path) -> None:
    activities = make_activities(OutboxBackend(tmp_path / "outbox.jsonl"), tmp_path)
    expect_application_error(lambda: check(activities, "100001", "ovh"), CONFIG_ERROR)
    untracked = make_activities(FlakyBackend(), tmp_path / "flaky")
    expect_application_error(lambda: check(untracked, "flaky-1"), CONFIG_ERROR)


def test_outbox_delivery(tmp_path: Path) -> None:
    activities = make_activities(OutboxBackend(tmp_path / "outbox.jsonl"), tmp_path)
    sent = run(activities, confirmation())
    assert check(activities, sent.message_id, "outbox").status == SmsDeliveryStatus.DELIVERED
    assert check(activities, "outbox-nope").status == SmsDeliveryStatus.FAILED


def test_ovh_delivery_status_fields() -> None:
    assert ovh_delivery_status({"deliveryReceipt": None})[0] == SmsDeliveryStatus.PENDING
    assert ovh_delivery_status({"deliveryReceipt": "2"})[0] == SmsDeliveryStatus.FAILED
    delivered_at = {"deliveryReceipt": 0, "deliveredAt": "2026-11-25T10:00:00+01:00"}
    assert ovh_delivery_status(delivered_at)[0] == SmsDeliveryStatus.DELIVERED


# --------------------------------------------------------------------------- incoming


def test_ovh_incoming_list_get_delete(fake_ovh: FakeOvhApi) -> None:
    backend = OvhBackend(fake_ovh.settings())
    first = fake_ovh.add_incoming(MOBILE, "ANNULER")
    second = fake_ovh.add_incoming("+33700000000", "2")
    assert backend.list_incoming() == [first, second]
    record = backend.get_incoming(first)
    assert record["id"] == str(first) and record["sender"] == MOBILE
    assert record["message"] == "ANNULER" and record["creationDatetime"]
    backend.delete_incoming(first)
    backend.delete_incoming(first)  # already gone: fine
    assert backend.list_incoming() == [second]
    with pytest.raises(SmsNotFoundError):
        backend.get_incoming(first)
    assert fake_ovh.rejected == []
    fake_ovh.fail_next(403, method="GET", path=r"/incoming$")
    with pytest.raises(SmsRejectedError):
        backend.list_incoming()


def test_outbox_inbox(tmp_path: Path) -> None:
    outbox = OutboxBackend(tmp_path / "outbox.jsonl", tmp_path / "inbox.jsonl")
    added = outbox.add_incoming(MOBILE, "ANNULER")
    # Lines written by hand: no id (known by a hash of the line), a torn line, junk.
    with open(tmp_path / "inbox.jsonl", "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"sender": "06 12 34 56 78", "message": "1"}) + "\n")
        handle.write("[1, 2]\n")
        handle.write('{"sender": "+3361')
    ids = outbox.list_incoming()
    assert ids[0] == added and len(ids) == 2
    assert outbox.list_incoming() == ids  # stable ids
    assert outbox.get_incoming(ids[1])["message"] == "1"
    outbox.delete_incoming(added)
    outbox.delete_incoming(added)
    assert outbox.list_incoming() == [ids[1]]
    assert (tmp_path / "inbox.jsonl.done").read_text().splitlines() == [added]
    with pytest.raises(SmsNotFoundError):
        outbox.get_incoming(added)
    # The default inbox sits next to the outbox; the settings can move it.
    assert OutboxBackend(tmp_path / "o.jsonl").inbox_path == tmp_path / "sms-inbox.jsonl"
    built = build_sms_backend(
        SmsSettings(outbox_path=tmp_path / "o.jsonl", inbox_path=tmp_path / "i.jsonl")
    )
    assert isinstance(built, OutboxBackend) and built.inbox_path == tmp_path / "i.jsonl"
