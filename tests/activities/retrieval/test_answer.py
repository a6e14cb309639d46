"""The answer as an SMS: a strict template, a long answer cut at a sentence."""

from __future__ import annotations

import pytest

from activities.messaging.render import SmsTemplateError, render_sms
from activities.retrieval.answer import render_answer_sms
from corpus import TEMPLATES_DIR
from domain.sms import sms_info
from tests.activities.retrieval.common import PHONE, SERVICE


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
