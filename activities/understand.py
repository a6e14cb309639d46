"""The `understand_message` activity: a transcript (or an SMS reply) → an `Understanding`.

CPU-only and fast (well under a millisecond per message), so it is a plain synchronous
activity; the worker runs it in its thread pool. The catalogue and the territory are loaded once,
at worker start, and held by the activity instance.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from temporalio import activity

from corpus import CORPUS_DIR
from domain.catalogue import Catalogue
from domain.models import Understanding, UnderstandInput
from domain.understanding import Territory, understand

__all__ = ["DEFAULT_CATALOGUE_PATH", "UnderstandActivities", "load_catalogue"]

DEFAULT_CATALOGUE_PATH = CORPUS_DIR / "items.yaml"


def load_catalogue(path: Path = DEFAULT_CATALOGUE_PATH) -> Catalogue:
    """Reads and validates the item catalogue. Any problem raises ValueError naming the file
    and, where it applies, the field: a broken catalogue must stop the worker at start-up, not
    fail every workflow later."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise ValueError(f"{path}: catalogue illisible ({e.strerror or e})") from e
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ValueError(f"{path}: YAML invalide: {e}") from e
    if data is None:
        raise ValueError(f"{path}: fichier vide")
    try:
        return Catalogue.from_dict(data)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from e


class UnderstandActivities:
    def __init__(self, catalogue: Catalogue, territory: Territory) -> None:
        self._catalogue = catalogue
        self._territory = territory

    @activity.defn(name="understand_message")
    def understand(self, inp: UnderstandInput) -> Understanding:
        return understand(inp.text, inp.caller_number, self._catalogue, self._territory)
