"""Fixtures shared by the tests of an activity and those of its engine package: the FAQ
retriever, indexed once per session (tests/activities/test_faq.py, tests/activities/retrieval/)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from activities.config import FaqSettings

if TYPE_CHECKING:
    from activities.retrieval.retriever import FaqRetriever


@pytest.fixture(scope="session")
def faq_settings() -> FaqSettings:
    return FaqSettings()


@pytest.fixture(scope="session")
def retriever(faq_settings: FaqSettings) -> FaqRetriever:
    from activities.retrieval.retriever import FaqRetriever

    r = FaqRetriever(faq_settings)
    r.index()
    return r
