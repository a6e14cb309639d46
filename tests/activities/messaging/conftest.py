from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.fake_ovh import FakeOvhApi


@pytest.fixture
def fake_ovh() -> Iterator[FakeOvhApi]:
    with FakeOvhApi() as fake:
        yield fake
