"""The item phrasings of issue 16 (scripts/corpus/item_talk.py): seeded, two splits that share
no template, no extra item word and no misspelling rule, and a ground truth in the catalogue's
names."""

from __future__ import annotations

import random

from activities.understand import load_catalogue
from scripts.corpus import item_talk


def test_seeded_and_reproducible() -> None:
    a = item_talk.build_item_messages("dev", 1601, 40)
    b = item_talk.build_item_messages("dev", 1601, 40)
    assert a == b
    assert a != item_talk.build_item_messages("dev", 1602, 40)
    assert {m.family for m in a} == set(item_talk.FAMILIES)


def test_splits_share_no_phrasing() -> None:
    for table in (
        item_talk.EXTRA_FORMS,
        item_talk.PAIRS,
        item_talk.BRANDS,
        item_talk.MEASURES,
        item_talk.REQUESTS,
    ):
        dev, held = (set(table[s]) for s in item_talk.SPLITS)
        assert not dev & held
    dev_rules = {name for name, _ in item_talk.MISSPELLINGS["dev"]}
    held_rules = {name for name, _ in item_talk.MISSPELLINGS["heldout"]}
    assert not dev_rules & held_rules
    dev_text = {m.request for m in item_talk.build_item_messages("dev", 1, 200)}
    held_text = {m.request for m in item_talk.build_item_messages("heldout", 1, 200)}
    assert not dev_text & held_text


def test_truth_uses_catalogue_names() -> None:
    catalogue = load_catalogue()
    for split in item_talk.SPLITS:
        for m in item_talk.build_item_messages(split, 7, 120):
            for name in m.items:
                item = catalogue.get(name)
                assert item is not None and item.accepted and item.name == name, (m.id, name)
            for name in m.refused:
                item = catalogue.get(name)
                assert item is not None and not item.accepted, (m.id, name)


def test_a_correction_keeps_only_what_was_meant() -> None:
    said = item_talk.corrections(random.Random(3), "dev")
    assert len(said.items) == 1 and not said.refused
