"""SMS text from a French template (corpus/templates/sms/<name>.j2): strict rendering, then
fitted to as few segments as the text allows."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from pathlib import Path

import jinja2

from domain.sms import fit, normalise_whitespace

_TEMPLATE_NAME = re.compile(r"^[a-z0-9_]+$")


class SmsTemplateError(Exception):
    pass


@functools.lru_cache(maxsize=8)
def _environment(templates_dir: Path) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # plain text, never HTML
        keep_trailing_newline=False,
    )


def render_sms(templates_dir: Path, name: str, context: Mapping[str, object]) -> str:
    """The exact text that would be sent for template `name` (file `name`.j2): rendered with
    StrictUndefined, whitespace collapsed, typography made GSM-7, accents dropped only where
    that saves a segment. Raises SmsTemplateError (unknown template, missing variable, syntax
    error, empty result)."""
    if not _TEMPLATE_NAME.match(name):
        raise SmsTemplateError(f"Nom de modèle SMS invalide : {name!r}")
    try:
        template = _environment(Path(templates_dir)).get_template(f"{name}.j2")
        raw = template.render(**context)
    except jinja2.TemplateNotFound:
        raise SmsTemplateError(f"Modèle SMS introuvable : {name}") from None
    except jinja2.TemplateError as err:
        raise SmsTemplateError(f"Modèle SMS {name} : {err}") from None
    text, _ = fit(normalise_whitespace(raw))
    if not text:
        raise SmsTemplateError(f"Modèle SMS {name} : texte vide")
    return text
