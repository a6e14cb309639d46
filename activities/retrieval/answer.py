"""The FAQ answer as an SMS: the retrieved answer fitted into the `faq_answer` template within
3 segments, or rephrased by an optional LLM (OpenAI-compatible endpoint, off by default)."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import requests

from activities.config import FaqSettings
from activities.messaging.render import render_sms
from activities.retrieval.retriever import Hit
from corpus import TEMPLATES_DIR
from domain.sms import sms_info

log = logging.getLogger(__name__)

MAX_SEGMENTS = 3


def fit_answer(
    answer: str, service_name: str, agent_phone: str, templates_dir: Path = TEMPLATES_DIR / "sms"
) -> tuple[str, str]:
    """(answer, SMS text): the answer rendered by the `faq_answer` template into at most 3
    segments. An answer too long is cut at a sentence boundary (never mid-word); the corpus
    test keeps every entry within the limit, so this guards values overridden in production.
    The answer returned is the one the SMS holds, for a workflow that sends it through the
    SMS activity with the same template."""
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
