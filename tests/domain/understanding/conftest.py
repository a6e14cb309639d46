"""Fixtures of the understanding tests: the corpus catalogue, and the message understood as a
worker would (the corpus territory of tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import yaml

from corpus import CORPUS_DIR
from domain.catalogue import Catalogue
from domain.models import SpokenAddress, Understanding
from domain.understanding import Territory, understand

Run = Callable[[str], Understanding]


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    data = yaml.safe_load((CORPUS_DIR / "items.yaml").read_text(encoding="utf-8"))
    return Catalogue.from_dict(data)


@pytest.fixture
def run(catalogue: Catalogue, territory: Territory) -> Run:
    return lambda text: understand(text, "+33611223344", catalogue, territory)


def address(u: Understanding) -> SpokenAddress:
    assert u.address is not None
    return u.address
