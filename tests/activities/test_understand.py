"""The understand activity and the catalogue file it loads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from temporalio import activity
from temporalio.testing import ActivityEnvironment

from activities.understand import DEFAULT_CATALOGUE_PATH, UnderstandActivities, load_catalogue
from domain.catalogue import Catalogue
from domain.models import Intent, Understanding, UnderstandInput
from domain.names import UNDERSTAND
from domain.understanding import Territory


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def test_shipped_catalogue_loads(catalogue: Catalogue) -> None:
    accepted = set(catalogue.accepted_names())
    refused = set(catalogue.refused_names())
    assert {"réfrigérateur", "lave-linge", "canapé", "matelas", "cuisinière"} <= accepted
    assert {"gravats", "pneu", "bouteille de gaz", "déchets verts", "amiante"} <= refused
    assert not accepted & refused


@pytest.mark.parametrize(
    ("said", "name"),
    [
        ("frigo", "réfrigérateur"),
        ("machine à laver", "lave-linge"),
        ("gazinière", "cuisinière"),
        ("clic-clac", "canapé"),
        ("chauffe-eau", "ballon d'eau chaude"),
        ("télé", "télévision"),
        ("sacs de gravats", "gravats"),
        ("bouteilles de gaz", "bouteille de gaz"),
        ("pots de peinture", "déchets dangereux"),
    ],
)
def test_shipped_catalogue_synonyms(catalogue: Catalogue, said: str, name: str) -> None:
    item = catalogue.match(said)
    assert item is not None and item.name == name


def test_refused_items_say_where_to_go_in_sms_friendly_french(catalogue: Catalogue) -> None:
    for name in catalogue.refused_names():
        item = catalogue.get(name)
        assert item is not None and item.destination and item.reason
        # The SMS templates stay in GSM-7: these characters would switch them to UCS-2.
        assert not re.search(r"[êâôîûçœ’]", item.destination), item.destination
        assert not item.destination.endswith("."), "the template adds the period"


def test_load_catalogue_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ValueError, match=re.escape(str(missing))):
        load_catalogue(missing)


def test_load_catalogue_invalid_yaml(tmp_path: Path) -> None:
    path = tmp_path / "items.yaml"
    path.write_text("items: [name: : :\n", encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(str(path)) + ".*YAML"):
        load_catalogue(path)


def test_load_catalogue_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "items.yaml"
    path.write_text("", encoding="utf-8")
    with pytest.raises(ValueError, match="vide"):
        load_catalogue(path)


def test_load_catalogue_names_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "items.yaml"
    path.write_text("items:\n  - name: pneu\n    accepted: false\n", encoding="utf-8")
    with pytest.raises(ValueError) as err:
        load_catalogue(path)
    assert str(path) in str(err.value)
    assert "items[0] (pneu).destination" in str(err.value)


def test_default_path_is_the_shipped_file() -> None:
    assert DEFAULT_CATALOGUE_PATH.is_file()


def test_activity_name_matches_the_workflow_constant(
    catalogue: Catalogue, territory: Territory
) -> None:
    acts = UnderstandActivities(catalogue, territory)
    defn = activity._Definition.from_callable(acts.understand)
    assert defn is not None and defn.name == UNDERSTAND == "understand_message"
    assert not defn.is_async


def test_activity_understands_a_message(catalogue: Catalogue, territory: Territory) -> None:
    acts = UnderstandActivities(catalogue, territory)
    inp = UnderstandInput(
        text="Bonjour, au quatorze rue Sainte, treize zéro zéro un, deux frigos. Merci.",
        caller_number="06 01 02 03 04",
    )
    result = ActivityEnvironment().run(acts.understand, inp)
    assert isinstance(result, Understanding)
    assert result.intent == Intent.BOOKING
    assert result.address is not None and result.address.postcode == "13001"
    assert [(i.item, i.count) for i in result.items] == [("réfrigérateur", 2)]
    assert result.callback_number == "+33601020304"
