"""Transparency (AI charter): the voicemail greeting says the service is automated, what the
data is used for and how long it is kept, how to reach a person and how to refuse; every SMS
names the service and says how to reach a person."""

from __future__ import annotations

import re
import unicodedata

import jinja2
import jinja2.meta
import pytest
import yaml

from activities.messaging.render import render_sms
from corpus import CORPUS_DIR, TEMPLATES_DIR
from workers.settings import Settings

GREETING = CORPUS_DIR / "greeting.md"
SMS_DIR = TEMPLATES_DIR / "sms"
DAYS = {"mon": "lundi", "tue": "mardi", "wed": "mercredi", "thu": "jeudi", "fri": "vendredi"}
DAYS |= {"sat": "samedi", "sun": "dimanche"}


def plain(text: str) -> str:
    """Lower case, no accents, single spaces: SMS rendering may drop accents to save a part."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.casefold().split())


def opening_hours() -> str:
    """The call centre's hours from corpus/calendar.yaml, as the greeting reads them."""
    calendar = yaml.safe_load((CORPUS_DIR / "calendar.yaml").read_text("utf-8"))
    hours: dict[str, list[str]] = calendar["call_centre"]["hours"]
    ranges = {tuple(v) for v in hours.values()}
    days = list(hours)
    order = list(DAYS)
    contiguous = days == order[order.index(days[0]) : order.index(days[0]) + len(days)]
    if len(ranges) != 1 or len(ranges.pop()) != 1 or not contiguous:
        pytest.fail("call-centre hours are no longer uniform: rewrite the greeting's hours")
    start, end = hours[days[0]][0].split("-")

    def spoken(hhmm: str) -> str:
        h, m = hhmm.split(":")
        return f"{int(h)} h {m}" if m != "00" else f"{int(h)} h"

    return f"du {DAYS[days[0]]} au {DAYS[days[-1]]}, de {spoken(start)} à {spoken(end)}"


def greeting_text(settings: Settings) -> str:
    source = GREETING.read_text("utf-8")
    match = re.search(r"<!-- greeting:start -->(.*)<!-- greeting:end -->", source, re.S)
    assert match, "corpus/greeting.md must keep the greeting:start / greeting:end markers"
    template = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(match.group(1))
    return " ".join(
        template.render(
            service_name=settings.sms.service_name,
            agent_phone=settings.sms.agent_phone,
            opening_hours=opening_hours(),
            audio_days=settings.retention.audio_days,
            booking_days=settings.retention.booking_days,
        ).split()
    )


def test_greeting_covers_the_charter_points() -> None:
    settings = Settings()
    text = greeting_text(settings)
    low = plain(text)
    assert plain(settings.sms.service_name) in low
    assert "service automatique" in low and "programme" in low  # a machine, said plainly
    assert "conseiller" in low and plain(settings.sms.agent_phone) in low  # a person
    assert plain(opening_hours()) in low
    assert "servent uniquement" in low  # purpose of the data
    assert f"{settings.retention.audio_days} jours" in low  # how long
    assert "efface" in low and "acces a vos donnees" in low  # rights
    assert "ne souhaitez pas" in low and "raccrochez" in low  # how to refuse
    assert "{" not in text and "}" not in text
    words = len(text.split())
    assert words < 230, f"{words} words: more than ~1.5 min read aloud"


def sms_context(template: str, settings: Settings) -> dict[str, object]:
    source = (SMS_DIR / template).read_text("utf-8")
    env = jinja2.Environment()
    variables = jinja2.meta.find_undeclared_variables(env.parse(source))
    known: dict[str, object] = {
        "service_name": settings.sms.service_name,
        "agent_phone": settings.sms.agent_phone,
        "choices": [
            {"number": 1, "label": "12 Boulevard Chave, 13005 Marseille"},
            {"number": 2, "label": "12 Rue Chave, 13005 Marseille"},
        ],
        "answer": "Les gravats ne sont pas collectés : déposez-les en déchèterie.",
        "reference": "AC3D4F",
        "cancel_hint": "Pour annuler, répondez ANNULER.",
    }
    # Any other variable is a short phrase (dates, addresses, item lists...).
    return {name: known.get(name, "mardi 17 novembre") for name in variables}


@pytest.mark.parametrize("template", sorted(p.name for p in SMS_DIR.glob("*.j2")))
def test_every_sms_names_the_service_and_how_to_reach_a_person(template: str) -> None:
    settings = Settings()
    text = render_sms(SMS_DIR, template.removesuffix(".j2"), sms_context(template, settings))
    low = plain(text)
    assert low.startswith(plain(settings.sms.service_name)), text
    assert plain(settings.sms.agent_phone) in low, text
