"""Every SMS template renders within its segment limit, worst cases included; rendering is
strict."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from activities.messaging.render import SmsTemplateError, render_sms
from domain.sms import GSM7, sms_info
from tests.activities.messaging.common import (
    AGENT,
    CONFIRMATION,
    SERVICE,
    SMS_TEMPLATES,
)

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
    "address_request": {"items_label": "1 canapé, 2 chaises"},
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
    "booking_moved": {
        "reference": "AC3D4F",
        "pickup_date_label": "mercredi 30 septembre",
        "address_label": "134 avenue de la Capelette, 13010 Marseille",
    },
    "booking_items_changed": {
        "reference": "AC3D4F",
        "pickup_date_label": "mercredi 30 septembre",
        "items_label": "1 canapé, 2 chaises",
    },
    "booking_cancelled_by_agent": {
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
    "address_request": 2,
    "reminder": 2,
    "cancelled": 2,
    "missed_call_invite": 2,
    "missed_call_booking_status": 2,
    "booking_moved": 2,
    "booking_items_changed": 2,
    "booking_cancelled_by_agent": 2,
}


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
    WorstCase(
        "quelle adresse ? (aucune entendue)",
        "address_request",
        2,
        {"items_label": "2 réfrigérateurs, 1 canapé, 1 matelas, 1 machine à laver"},
    ),
    WorstCase("appel manqué : invitation", "missed_call_invite", 2),
    WorstCase(
        "appel manqué : rendez-vous déjà pris",
        "missed_call_booking_status",
        2,
        {"reference": "AC3D4F", "pickup_date_label": LONG_DATE},
    ),
    WorstCase(
        "déplacé par un conseiller",
        "booking_moved",
        2,
        {"reference": "AC3D4F", "pickup_date_label": LONG_DATE, "address_label": LONGEST_ADDRESS},
    ),
    # The catalogue's longest names, at the limit of 5 items per pickup.
    WorstCase(
        "objets modifiés par un conseiller",
        "booking_items_changed",
        2,
        {
            "reference": "AC3D4F",
            "pickup_date_label": LONG_DATE,
            "items_label": "1 ballon d'eau chaude, 1 réfrigérateur américain, 1 sèche-linge, "
            "1 table de chevet, 1 matelas",
        },
    ),
    WorstCase(
        "annulé par un conseiller",
        "booking_cancelled_by_agent",
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
