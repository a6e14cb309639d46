"""Sentences of the corpus generator: rendering, and agreement of its vocabulary with the
project's catalogue and FAQ."""

from __future__ import annotations

import random
from pathlib import Path

import yaml

from scripts.corpus import lexicon, templates
from scripts.corpus.templates import Said

REPO = Path(__file__).resolve().parents[2]


def said(**kw) -> Said:
    base = {"number": 12, "rep": "", "street": "Rue Roubaud", "locality": ", dans le huitième"}
    return Said(**{**base, "wrong": 14, "residence": "Les Pins", **kw})


def test_street_forms() -> None:
    assert templates.street_said("Rue Roubaud") == "rue Roubaud"
    assert templates.street_said("Les Bastidons") == "Les Bastidons"
    assert templates.of_street("Avenue du Prado") == "de l'avenue du Prado"
    assert templates.of_street("Boulevard Chave") == "du boulevard Chave"
    assert templates.of_street("Rond-Point du Prado") is None
    assert templates.spelled_word("Rue de la République") == "République"
    assert templates.at_place("Le Rove") == "au Rove"
    assert templates.at_place("Les Accates") == "aux Accates"
    assert templates.at_place("La Ciotat") == "à la Ciotat"
    assert templates.at_place("Aubagne") == "à Aubagne"


def test_items_phrases() -> None:
    frigo, armoire = lexicon.ACCEPTED[2], lexicon.ACCEPTED[15]
    assert templates.items_phrase([(frigo, 1), (armoire, 2)]) == "un frigo et deux armoires"
    assert templates.items_phrase([(armoire, 1), (frigo, 3)], de=True) == (
        "d'une armoire et de trois frigos"
    )


def test_every_phrasing_says_the_number_and_the_street() -> None:
    rng = random.Random(1)
    for phrasing in templates.PHRASINGS:
        extra = {"rep": "bis"} if phrasing == "bis_ter" else {}
        extra |= {"quartier": "Saint-Barnabé"} if phrasing == "quartier" else {}
        street = "Les Bastidons" if phrasing == "lieu_dit" else "Rue Roubaud"
        for _ in range(5):
            text = templates.address_sentence(said(street=street, **extra), phrasing, rng)
            assert "douze" in text and "huitième" in text, (phrasing, text)
            assert templates.street_said(street).split()[-1] in text, (phrasing, text)
    rng = random.Random(2)
    assert "R O U B A U D" in templates.address_sentence(said(), "spelled", rng)
    corrected = templates.address_sentence(said(), "self_correction", rng)
    assert corrected.index("quatorze") < corrected.index("douze")
    assert "douze bis" in templates.address_sentence(said(rep="bis"), "bis_ter", rng)


def test_localities() -> None:
    rng = random.Random(3)
    assert "treize zéro zéro huit" in templates.marseille_locality("postcode_digits", "13008", rng)
    assert "treize mille huit" in templates.marseille_locality("postcode_thousands", "13008", rng)
    assert "premier" in templates.marseille_locality("ordinal", "13001", rng)
    assert templates.marseille_locality("none", "13001", rng) == ""
    assert "Aubagne" in templates.commune_locality("city", "Aubagne", "13400", rng)


def _catalogue_forms() -> dict[str, set[str]]:
    data = yaml.safe_load((REPO / "corpus" / "items.yaml").read_text(encoding="utf-8"))
    return {i["name"]: {i["name"], *i.get("synonyms", [])} for i in data["items"]}


def test_items_are_catalogue_names_and_forms() -> None:
    catalogue = _catalogue_forms()
    accepted = {
        i["name"]: i["accepted"]
        for i in yaml.safe_load((REPO / "corpus" / "items.yaml").read_text("utf-8"))["items"]
    }
    for form in (*lexicon.ACCEPTED, *lexicon.REFUSED):
        assert form.item in catalogue, form
        # the phrase said contains a form of the catalogue ("sac de branchages": branchage)
        assert any(f in form.singular for f in catalogue[form.item]), form
        assert accepted[form.item] is form.accepted, form


def test_topics_are_faq_ids() -> None:
    faq = {p.stem for p in (REPO / "corpus" / "faq").glob("*.md") if p.stem != "README"}
    topics = {*lexicon.QUESTIONS, *lexicon.REFUSED_TOPIC.values(), lexicon.ACCEPTED_TOPIC}
    assert topics <= faq, topics - faq
    assert set(lexicon.SIDE_QUESTIONS) <= set(lexicon.QUESTIONS)
    assert {f.item for f in lexicon.REFUSED} <= set(lexicon.REFUSED_TOPIC)
