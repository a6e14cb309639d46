"""Items as callers say them beyond "un X et deux Y" (issue 16, the dev split of
`scripts/corpus/item_talk.py`): corrections, items kept, measures that are no counts, items
added in a sentence of their own, plurals of words in -a, and Whisper's loops."""

from __future__ import annotations

import pytest
import yaml

from corpus import CORPUS_DIR
from domain.catalogue import Catalogue
from domain.models import Understanding
from domain.understanding import Territory, understand

CALLER = "+33611223344"
WHERE = "J'habite au 9 rue Sainte, 13001."


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    data = yaml.safe_load((CORPUS_DIR / "items.yaml").read_text(encoding="utf-8"))
    return Catalogue.from_dict(data)


def said(text: str, catalogue: Catalogue, territory: Territory) -> dict[str, int]:
    u: Understanding = understand(f"{WHERE} {text}", CALLER, catalogue, territory)
    return {i.item: i.count for i in u.items}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Je voudrais faire enlever un bureau, euh non pardon, un congélateur.",
            {"congélateur": 1},
        ),
        ("Je voudrais faire enlever une table, ou plutôt une commode.", {"commode": 1}),
        (
            "Je voudrais faire enlever un buffet, non pas le buffet, la table basse.",
            {"table": 1},
        ),
        ("Je voudrais faire enlever trois chaises, non, quatre chaises.", {"chaise": 4}),
        # lost punctuation, as Whisper writes it
        ("je voudrais faire enlever un tabouret euh non pardon un four", {"four": 1}),
    ],
)
def test_an_item_corrected_counts_once_as_corrected(
    text: str, expected: dict[str, int], catalogue: Catalogue, territory: Territory
) -> None:
    assert said(text, catalogue, territory) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # "non pas" before another item: that one is refused, the first stays
        (
            "Je voudrais faire enlever un frigo, et non pas un congélateur.",
            {"réfrigérateur": 1},
        ),
        # "non" that corrects nothing of the items
        (
            "Je voudrais faire enlever un canapé. Non, je n'ai rien d'autre. Et une table.",
            {"canapé": 1, "table": 1},
        ),
    ],
)
def test_no_correction_without_one(
    text: str, expected: dict[str, int], catalogue: Catalogue, territory: Territory
) -> None:
    assert said(text, catalogue, territory) == expected


def test_an_item_kept_is_not_collected(catalogue: Catalogue, territory: Territory) -> None:
    text = "J'ai un canapé et une chaise. Mais pas la machine à laver, je la garde."
    assert said(text, catalogue, territory) == {"canapé": 1, "chaise": 1}


def test_items_added_in_a_sentence_of_their_own(catalogue: Catalogue, territory: Territory) -> None:
    text = "Je voudrais faire enlever un canapé. Il y a aussi un lit. Il y a aussi deux chaises."
    assert said(text, catalogue, territory) == {"canapé": 1, "lit": 1, "chaise": 2}


def test_a_question_opened_with_il_y_a_is_still_a_question(
    catalogue: Catalogue, territory: Territory
) -> None:
    u = understand(
        f"{WHERE} Je voudrais faire enlever un canapé. Il y a une limite au nombre de meubles ?",
        CALLER,
        catalogue,
        territory,
    )
    assert u.question
    assert {i.item: i.count for i in u.items} == {"canapé": 1}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("J'ai une armoire deux portes et un radiateur.", {"armoire": 1, "radiateur": 1}),
        ("J'ai un buffet quatre portes.", {"buffet": 1}),
        ("J'ai une armoire et deux portes.", {"armoire": 1, "porte": 2}),
        ("J'ai une armoire, deux portes de placard.", {"armoire": 1, "porte": 2}),
    ],
)
def test_a_measure_after_an_item_is_no_count(
    text: str, expected: dict[str, int], catalogue: Catalogue, territory: Territory
) -> None:
    assert said(text, catalogue, territory) == expected


def test_plural_of_a_word_in_a(catalogue: Catalogue, territory: Territory) -> None:
    assert said("J'ai un micro-ondes et huit sofas.", catalogue, territory) == {
        "micro-ondes": 1,
        "canapé": 8,
    }
    assert catalogue.get("sofas") is not None


def test_chiffonnier_is_a_commode(catalogue: Catalogue, territory: Territory) -> None:
    assert said("J'ai deux chiffonniers.", catalogue, territory) == {"commode": 2}


def test_a_transcription_loop_adds_no_item(catalogue: Catalogue, territory: Territory) -> None:
    loop = ", ".join(["enlever une table basse"] * 8)
    text = f"Je voudrais faire enlever une table basse et un lit. Merci. {loop}"
    assert said(text, catalogue, territory) == {"table": 1, "lit": 1}


def test_the_same_item_said_twice_in_different_words_still_counts_twice(
    catalogue: Catalogue, territory: Territory
) -> None:
    text = "Je voudrais faire enlever une chaise. Et aussi, dans la cuisine, une chaise."
    assert said(text, catalogue, territory) == {"chaise": 2}


def test_il_y_aussi_as_whisper_writes_it_adds_items(
    catalogue: Catalogue, territory: Territory
) -> None:
    text = "Je voudrais faire enlever une table de nuit. Il y aussi deux tabourets."
    assert said(text, catalogue, territory) == {"table de chevet": 1, "chaise": 2}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("J'ai un miroir et quatre cinq sèche-linge.", {"miroir": 1, "sèche-linge": 5}),
        ("J'ai deux trois télévisions.", {"télévision": 3}),
    ],
)
def test_a_range_without_ou_plans_for_the_larger(
    text: str, expected: dict[str, int], catalogue: Catalogue, territory: Territory
) -> None:
    assert said(text, catalogue, territory) == expected


@pytest.mark.parametrize(
    "text",
    [
        "J'ai un lave-linge et un sommier. Mais le matelas, je le garde.",
        "J'ai un lave-linge et un sommier. Le matelas je le garde.",
        "J'ai un lave-linge et un sommier, la table de nuit on la conserve.",
    ],
)
def test_an_item_the_caller_keeps_is_not_collected(
    text: str, catalogue: Catalogue, territory: Territory
) -> None:
    assert said(text, catalogue, territory) == {"lave-linge": 1, "sommier": 1}


def test_a_loop_of_a_phrase_said_before_adds_nothing(
    catalogue: Catalogue, territory: Territory
) -> None:
    loop = ", ".join(["une table de deux"] * 10)
    text = f"J'ai une table de deux mètres et une machine à laver. Merci, c'était Paul. {loop}"
    assert said(text, catalogue, territory) == {"table": 1, "lave-linge": 1}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("J'ai une grande télée et un canapée.", {"télévision": 1, "canapé": 1}),
        ("J'ai deux sommiés et un buffé.", {"sommier": 2, "buffet": 1}),
        # words whose end is no /e/ sound stay apart: "porter" is no porte
        ("Il faut porter la table.", {"table": 1}),
    ],
)
def test_the_final_e_sound_written_another_way(
    text: str, expected: dict[str, int], catalogue: Catalogue, territory: Territory
) -> None:
    assert said(text, catalogue, territory) == expected


def test_a_negation_does_not_reach_over_a_comma(catalogue: Catalogue, territory: Territory) -> None:
    text = "Je ne sais pas, la table et deux chaises, c'est possible ?"
    assert said(text, catalogue, territory) == {"table": 1, "chaise": 2}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("J'ai une table chevet de chez Bosch.", {"table de chevet": 1}),
        ("J'ai un salon jardin et une machine laver.", {"salon de jardin": 1, "lave-linge": 1}),
    ],
)
def test_a_particle_of_the_name_dropped_by_the_transcription(
    text: str, expected: dict[str, int], catalogue: Catalogue, territory: Territory
) -> None:
    assert said(text, catalogue, territory) == expected


def test_no_correction_across_a_sentence_end(catalogue: Catalogue, territory: Territory) -> None:
    text = "Je voudrais faire enlever un frigo, pardon pour le bruit. Un canapé aussi."
    assert said(text, catalogue, territory) == {"réfrigérateur": 1, "canapé": 1}


def test_a_loop_says_so_once(catalogue: Catalogue, territory: Territory) -> None:
    loop = ", ".join(["enlever une table basse"] * 8)
    u = understand(
        f"{WHERE} Je voudrais faire enlever une table basse. {loop}", CALLER, catalogue, territory
    )
    assert [n for n in u.notes if "boucle" in n] == [
        "boucle de transcription : table compté une fois"
    ]
