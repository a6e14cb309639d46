"""A dialogue taken back to a checkpoint (Dialogue.checkpoint / restore): the runner does it
when a turn proves to be half of one (activities/live/runner.py)."""

from __future__ import annotations

import pytest

from activities.understand import load_catalogue
from domain.catalogue import Catalogue
from domain.dialogue import LookupKind
from domain.live_call_models import Phase
from domain.models import GeocodeResult, GeocodeStatus
from domain.understanding import Territory
from tests.domain.test_dialogue import MATCH, dialogue


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def test_a_checkpoint_takes_the_call_back_to_where_it_was(
    catalogue: Catalogue, territory: Territory
) -> None:
    d = dialogue(catalogue, territory)
    before = d.checkpoint()
    step = d.on_utterance("J'habite au 12 boulevard Chave, 13005 Marseille")
    assert step.lookup is not None and step.lookup.kind == LookupKind.ADDRESS
    d.on_address(GeocodeResult(GeocodeStatus.MATCHED, match=MATCH))
    assert d.phase == Phase.ASK_ITEMS and d.progress.turns == 1
    d.restore(before)
    assert d.phase == Phase.ASK_ADDRESS and d.progress.turns == 0 and not d.progress.heard
    assert d.pending is None
    # Usable again, and more than once: the caller may go on twice.
    d.on_utterance("J'habite au 12 boulevard Chave")
    d.restore(before)
    assert d.progress.turns == 0
    step = d.on_utterance("J'habite au 12 boulevard Chave, 13005 Marseille")
    assert step.lookup is not None and step.lookup.address is not None
    assert step.lookup.address.postcode == "13005"


def test_the_service_data_is_shared_not_copied(catalogue: Catalogue, territory: Territory) -> None:
    d = dialogue(catalogue, territory)
    state = d.checkpoint()
    d.restore(state)
    assert d._catalogue is catalogue and d._territory is territory
