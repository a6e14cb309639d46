"""The safety rules of issue 16 over the ways callers say addresses, end to end from the
caller's words to the decision (understand → propose → resolve → decide), over the small
synthetic territory of helpers.py: a correction is confirmed, a date, a time or a cut postcode
is no house number, a landmark is not the address, spelled letters change only the word they
spell. Found by a review of the address-forms step; those marked « also before » failed before
that step too."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from activities.geocode import GeocodeActivities
from corpus import CORPUS_DIR
from domain.address_models import ResolveAddressInput
from domain.catalogue import Catalogue
from domain.decision import DecisionKind, decide_address
from domain.trust import self_corrected
from domain.understanding import Territory, understand
from domain.understanding.spelled_names import spelled
from tests.activities.geo.helpers import (
    SEARCH_SECTORS,
    SEARCH_STREETS,
    propose,
    search_activities,
    street_rows,
)


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    data = yaml.safe_load((CORPUS_DIR / "items.yaml").read_text(encoding="utf-8"))
    return Catalogue.from_dict(data)


def _decide(acts: GeocodeActivities, catalogue: Catalogue, territory: Territory, text: str):  # type: ignore[no-untyped-def]
    u = understand(text, "+33611223344", catalogue, territory)
    cands = propose(acts, text, u.address)
    geo = acts.resolve_address(ResolveAddressInput(candidates=cands, address=u.address))
    return u, geo, decide_address(geo)


@pytest.mark.parametrize(
    "said",
    [
        # The parser takes « non » or « pardon » alone as a correction and keeps the number or
        # street corrected to; the transcript's own rule (trust._CORRECTION) needs « non
        # pardon », « je veux dire »...: the address carries the doubt (corrected). Was booked
        # at 0.94 before. Also before the address-forms step: 10 kept and booked.
        "J'habite au dix rue Paradis, non, au douze. C'est pour une armoire.",
        # Also before the address-forms step: 3 kept and booked.
        "Je suis au trois rue Paradis, euh non, au cinq. C'est pour une armoire.",
        "J'habite au dix rue Paradis, pardon, au dix rue Breteuil. C'est pour une armoire.",
    ],
)
def test_a_correction_the_parser_followed_is_never_booked_blindly(
    acts: GeocodeActivities, catalogue: Catalogue, territory: Territory, said: str
) -> None:
    # Issue 16: corrected addresses are confirmed rather than booked blindly.
    _, geo, decision = _decide(acts, catalogue, territory, said)
    assert decision.kind != DecisionKind.BOOK, (geo.match, geo.doubt)


@pytest.mark.parametrize(
    "said",
    [
        # A date or a time after the street (« le » introduces it, « dans », « en », « à »
        # follow it): was read as the house number.
        "J'habite rue Paradis, le 12 dans l'après-midi si possible. C'est pour une armoire.",
        "J'habite rue Paradis, le douze en fin de matinée. C'est pour une armoire.",
        "J'habite rue Paradis, le 12 à 14 heures ça m'irait. C'est pour une armoire.",
        # A time as Whisper writes a postcode said in groups (« 13h05 »): a review's case,
        # booked at 0.88 by a first version of the grouped-postcode rule.
        "J'habite rue Paradis, le 12 à 13h05 ça m'irait. C'est pour une armoire.",
        "J'habite rue Paradis, le 12 à 13h00 ça m'irait. C'est pour une armoire.",
        # A postcode the transcript split in two (« treize zéro zéro six »): its first
        # group was read as the number.
        "J'habite rue Paradis, au 13 006 Marseille. C'est pour une armoire.",
        "J'habite rue Paradis, c'est le 13 006 Marseille. C'est pour une armoire.",
    ],
)
def test_a_date_or_postcode_after_the_street_is_no_house_number(
    acts: GeocodeActivities, catalogue: Catalogue, territory: Territory, said: str
) -> None:
    # Issue 16: a missing house number never books.
    u, geo, decision = _decide(acts, catalogue, territory, said)
    assert u.address is not None
    assert u.address.housenumber == "", u.address
    assert decision.kind != DecisionKind.BOOK, geo.match


def test_non_loin_de_takes_nothing_back(
    acts: GeocodeActivities, catalogue: Catalogue, territory: Territory
) -> None:
    # « non loin de » (near) is no correction: before the address-forms step, 10 Rue Paradis
    # was booked; with it, Rue Paradis was dropped for the landmark street.
    u, _, _ = _decide(
        acts,
        catalogue,
        territory,
        "J'habite au dix rue Paradis, non loin de l'avenue du Prado. C'est pour une armoire.",
    )
    assert u.address is not None
    assert (u.address.housenumber, u.address.street) == ("10", "Rue Paradis")


def test_non_loin_de_never_offers_the_landmark_with_the_callers_number(
    acts: GeocodeActivities, catalogue: Catalogue, territory: Territory
) -> None:
    # Also before the address-forms step (10 Place Castellane offered, street_differs): the
    # landmark now ends the address region.
    _, geo, decision = _decide(
        acts,
        catalogue,
        territory,
        "J'habite au 10 rue Paradis non loin de la place Castellane. C'est pour une armoire.",
    )
    offered = [decision.match, *decision.candidates]
    assert all(m is None or m.street != "Place Castellane" for m in offered), geo.reason


@pytest.mark.parametrize(
    ("street", "kept"),
    [
        # Words of the name that look like the spelled one were dropped with it.
        (
            "Rue du Petit Puits P U I T S",
            "Rue du Petit Puits",
        ),  # → « Rue du Puits », another street
        ("Boulevard Romain Rolland R O L L A N D", "Boulevard Romain Rolland"),
        ("Boulevard des Dames D A M E S", "Boulevard des Dames"),
        (
            "Ancien Chemin de Saint-Menet aux Camoins C A M O I N S",
            "Ancien Chemin de Saint-Menet aux Camoins",
        ),
    ],
)
def test_spelled_letters_drop_no_other_word_of_the_name(street: str, kept: str) -> None:
    assert spelled(street).lower() == kept.lower()


def test_a_callback_verb_does_not_hide_a_correction_of_the_street_name() -> None:
    # « s'appelle plutôt » once matched the callback preference (appel\w* … plutôt): the
    # only correction word was removed and 4 Rue Breteuil (the name taken back) booked.
    assert self_corrected(
        "J'habite au 4 rue Breteuil, enfin la rue s'appelle plutôt rue Paradis. Une armoire."
    )


def test_a_place_lost_after_the_address_is_never_booked_blindly(
    acts: GeocodeActivities, catalogue: Catalogue, territory: Territory
) -> None:
    """« …, à je voudrais … »: the commune the caller named was lost (on the third
    development seed, an outside caller booked at 0.75 in a Marseille street of that name)."""
    said = "J'habite au douze rue Paradis, à je voudrais faire enlever une armoire."
    _, geo, decision = _decide(acts, catalogue, territory, said)
    assert geo.match is not None and geo.doubt == "low_confidence", (geo.match, geo.doubt)
    assert decision.kind == DecisionKind.CONFIRM_BY_SMS


def test_a_place_named_that_no_list_knows_is_never_booked_blindly(
    acts: GeocodeActivities, catalogue: Catalogue, territory: Territory
) -> None:
    """« … à Oigon » (Orgon, outside, misheard; too short for the misspelled-name rule): on
    the fourth development seed (4404) such a caller was booked at 0.90 in the Marseille
    street of the same name. A place said that is no commune known is confirmed."""
    said = "J'habite au douze rue Paradis, à Oigon. Je voudrais faire enlever une armoire."
    _, geo, decision = _decide(acts, catalogue, territory, said)
    assert geo.match is not None and geo.doubt == "low_confidence", (geo.match, geo.doubt)
    assert decision.kind == DecisionKind.CONFIRM_BY_SMS


@pytest.mark.parametrize(
    "said",
    [
        # Audio corpus 9595 (never read before it was measured), three callers from outside
        # booked in Marseille at 0.99 and more: « à la Seyne-sur-Mer » heard « à
        # l'ascensionner » (taken into the street's name), « à Saint-Andiol » heard « assez
        # en dehors », « à Saint-Étienne-du-Grès » « Assez et tiendes grètes ».
        "Mon adresse, c'est le 12 rue Paradis à l'ascensionner, je voudrais enlever une armoire.",
        "Je suis au 12 rue Paradis, bâtiment D. Au septième étage, assez en dehors, je voudrais "
        "enlever une armoire.",
        "J'habite au 12 rue Paradis. Assez et tiendes grètes, je voudrais enlever une armoire.",
    ],
)
def test_a_place_garbled_after_the_street_is_never_booked_blindly(
    acts: GeocodeActivities, catalogue: Catalogue, territory: Territory, said: str
) -> None:
    _, geo, decision = _decide(acts, catalogue, territory, said)
    assert geo.match is not None and geo.doubt == "low_confidence", (geo.match, geo.doubt)
    assert decision.kind == DecisionKind.CONFIRM_BY_SMS


@pytest.mark.parametrize(
    "said",
    [
        "J'habite au 12 rue Paradis à côté de la poste, je voudrais enlever une armoire.",
        "J'habite au 12 rue Paradis, c'est assez urgent, je voudrais enlever une armoire.",
        "J'habite au 12 rue Paradis, à jeter, une armoire.",
        "J'habite au 12 rue Paradis à Marseille, je voudrais enlever une armoire.",
    ],
)
def test_words_after_the_street_that_name_no_place_leave_it_bookable(
    acts: GeocodeActivities, catalogue: Catalogue, territory: Territory, said: str
) -> None:
    u, geo, _ = _decide(acts, catalogue, territory, said)
    assert geo.match is not None and geo.doubt == "", (u.address, geo.match, geo.reason)


def test_a_quartier_a_street_of_the_commune_carries_is_no_place_lost(
    tmp_path: Path, catalogue: Catalogue, territory: Territory
) -> None:
    """« à la savine » in lower case after the street: a cité of the 6th here, whose name a
    street of the same arrondissement carries (activities/geo/local_names.py), is no commune
    lost; the same name carried only in another arrondissement stays a doubt."""
    streets = [
        *SEARCH_STREETS,
        ("Boulevard de la Savine", "13006", "13206", 5.413),
        ("Rue de la Busserine", "13014", "13214", 5.39),
    ]
    acts = search_activities(tmp_path, street_rows(streets), SEARCH_SECTORS, territory)
    said = "J'habite au 12 rue Paradis, à la savine, je voudrais enlever une armoire."
    u, geo, decision = _decide(acts, catalogue, territory, said)
    assert u.address is not None and u.address.city == "la savine"
    assert geo.match is not None and geo.doubt == "", (geo.match, geo.reason)
    said = "J'habite au 12 rue Paradis, à la busserine, je voudrais enlever une armoire."
    _, geo, decision = _decide(acts, catalogue, territory, said)
    assert geo.doubt == "low_confidence" and decision.kind == DecisionKind.CONFIRM_BY_SMS


def test_a_postcode_cut_short_is_never_booked_blindly(
    acts: GeocodeActivities, catalogue: Catalogue, territory: Territory
) -> None:
    said = "J'habite au douze rue Paradis, treize zéro zéro je voudrais enlever une armoire."
    _, geo, decision = _decide(acts, catalogue, territory, said)
    assert geo.match is not None and geo.doubt == "low_confidence", (geo.match, geo.doubt)
    assert decision.kind == DecisionKind.CONFIRM_BY_SMS


@pytest.mark.parametrize(
    "said",
    [
        # « au dix-sept » heard « au 10h »: a time is no house number read (« 10 h » is no
        # number of a street whose type was heard either).
        "J'habite au 10h Paradis. Je voudrais enlever une armoire.",
        "J'habite au 10h rue Paradis. Je voudrais enlever une armoire.",
        # A review's: the time not first in the words, or in words.
        "J'habite au numéro 10h Paradis. Je voudrais enlever une armoire.",
        "J'habite au 10 heures Paradis. Je voudrais enlever une armoire.",
    ],
)
def test_a_number_that_cannot_be_the_callers_is_never_booked_blindly(
    acts: GeocodeActivities, catalogue: Catalogue, territory: Territory, said: str
) -> None:
    u, geo, decision = _decide(acts, catalogue, territory, said)
    assert geo.match is None or geo.doubt, (u.address, geo.match, geo.doubt)
    assert decision.kind != DecisionKind.BOOK


@pytest.mark.parametrize("street", ["impasse des Lilas", "avenue du Prado"])
def test_a_street_type_said_first_is_no_house_number(
    acts: GeocodeActivities, catalogue: Catalogue, territory: Territory, street: str
) -> None:
    """Seed 5505: « c'est le impasse Coulomb » (the number dropped) booked 1: « impasse »
    sounds like « un passe », and the guess from the words heard took it for a number."""
    said = f"Mon adresse, c'est le {street}, treize mille six Marseille. Une armoire."
    u, geo, decision = _decide(acts, catalogue, territory, said)
    assert u.address is not None and u.address.housenumber == ""
    assert decision.kind != DecisionKind.BOOK, geo.match
    assert geo.match is None or geo.match.housenumber == "", geo.match


def test_a_commune_misspelled_is_confirmed_never_booked(
    acts: GeocodeActivities, catalogue: Catalogue, territory: Territory
) -> None:
    """A commune guessed from a misspelled name may be a hamlet's (« Saint-Canadet » is no
    Saint-Cannat): the address it leads to is offered, not booked."""
    said = "J'habite au douze rue Paradis, à Marseilles. Je voudrais enlever une armoire."
    _, geo, decision = _decide(acts, catalogue, territory, said)
    assert decision.kind == DecisionKind.BOOK or geo.doubt != "low_confidence"  # the main city
    said = "J'habite au douze rue Paradis, à Marignnane. Je voudrais enlever une armoire."
    _, geo, decision = _decide(acts, catalogue, territory, said)
    assert decision.kind != DecisionKind.BOOK, (geo.match, geo.doubt)


@pytest.mark.parametrize(
    "said",
    [
        "J'habite au sept rue des Grands Lilas Blancs, treize mille cinq. C'est pour une armoire.",
        "Je suis au dix boulevard des Grandes Chavelières, treize mille cinq. C'est pour un lit.",
    ],
)
def test_a_street_found_inside_a_longer_name_said_is_never_booked(
    acts: GeocodeActivities, catalogue: Catalogue, territory: Territory, said: str
) -> None:
    # « rue des Trois Figuiers » (no such street in the gazetteer) matched « Rue Giay » at
    # 0.54, inside « figuiers », and was booked at the folds' threshold (seed 6606, dev).
    _, geo, decision = _decide(acts, catalogue, territory, said)
    assert decision.kind != DecisionKind.BOOK, (geo.match, geo.doubt)


@pytest.mark.parametrize(
    ("said", "number"),
    [
        ("J'habite au dix, euh non, au douze Paradis, treize mille six. Une armoire.", "12"),
        ("J'habite au quatorze, non pardon, au quatre Paradis, à Marseille. Une armoire.", "4"),
        # Typed: « euh non » alone is no correction to the transcript's rule, the region's is.
        ("J'habite au dix, euh non, au douze rue Paradis, à Marseille. Une armoire.", "12"),
        # After the street, the commas lost (seed 8808, dev: « au vingt-trois Victor Hugo non
        # pardon au vingt et un » searched the correction as the street's name).
        ("J'habite au dix Paradis non pardon au douze à Marseille. Une armoire.", "12"),
        (
            "j'habite au dix rue paradis euh non pardon au douze treize mille six. une armoire.",
            "12",
        ),
    ],
)
def test_a_number_taken_back_gives_the_one_corrected_to(
    acts: GeocodeActivities, catalogue: Catalogue, territory: Territory, said: str, number: str
) -> None:
    # Before: « euh non » taken for the street (« 10 Avenue du Prado » offered), or the number
    # taken back kept (« 14 Rue Paradis »). Now the address corrected to, confirmed by SMS.
    _, geo, decision = _decide(acts, catalogue, territory, said)
    assert geo.match is not None
    assert (geo.match.housenumber, geo.match.street) == (number, "Rue Paradis")
    assert (decision.kind, decision.reason) == (DecisionKind.CONFIRM_BY_SMS, "self_correction")


@pytest.mark.parametrize(
    "said",
    [
        # The street corrected too, the commas lost: the region stops at the take-back, and
        # the street taken back must not be booked (a review's case).
        "j'habite au dix paradis euh non au douze breteuil à marseille. une armoire.",
        "j'habite au dix rue paradis non pardon au douze rue breteuil à marseille. une armoire.",
        "j'habite au dix paradis non au douze paradis à marseille. une armoire.",
    ],
)
def test_a_take_back_after_the_street_is_never_booked_blindly(
    acts: GeocodeActivities, catalogue: Catalogue, territory: Territory, said: str
) -> None:
    _, geo, decision = _decide(acts, catalogue, territory, said)
    assert decision.kind != DecisionKind.BOOK, (geo.match, geo.doubt)


def test_an_untyped_name_found_in_part_is_never_booked(
    acts: GeocodeActivities, catalogue: Catalogue, territory: Territory
) -> None:
    # Seed 8808 (dev): « au dix de Siant-Antoine à Saint-Joseph » (chemin lost) booked
    # « 10 Impasse Saint-Joseph » at 0.47. Here « Chave » is the street's, « Mirabelle » not.
    said = "J'habite au douze Mirabelle Chave, treize mille cinq. C'est pour une armoire."
    _, geo, decision = _decide(acts, catalogue, territory, said)
    assert decision.kind != DecisionKind.BOOK, (geo.match, geo.doubt)
    assert geo.doubt == "street_differs"


def test_a_postcode_in_words_is_no_street_name(
    acts: GeocodeActivities, catalogue: Catalogue, territory: Territory
) -> None:
    # Seed 8808 (dev): « au six mozart … treize mille neuf marseille » searched « neuf » as a
    # street (Boulevard Neuf of the 13th).
    said = "j'habite au douze chave treize mille cinq marseille. c'est pour une armoire."
    _, geo, _ = _decide(acts, catalogue, territory, said)
    assert geo.match is not None
    assert (geo.match.housenumber, geo.match.street) == ("12", "Boulevard Chave")


@pytest.mark.parametrize(
    ("said", "found"),
    [
        # Seed 9909 (dev): « allée de la Source » (not in the gazetteer) booked as « 21
        # Escalier de la Source » at 0.65.
        ("J'habite au douze place Paradis, treize mille six.", "Rue Paradis"),
        # Seed 2121 (dev): « chemin du Vieux Moulin » (not in the gazetteer) booked as
        # « Traverse du Vieux Moulin » at 0.55; « chemin » and « traverse » are neighbours, not
        # the same.
        ("J'habite au douze chemin du Moulin, treize mille cinq.", "Traverse du Moulin"),
    ],
)
def test_a_street_of_another_type_is_never_booked(
    acts: GeocodeActivities, catalogue: Catalogue, territory: Territory, said: str, found: str
) -> None:
    _, geo, decision = _decide(acts, catalogue, territory, f"{said} C'est pour une armoire.")
    assert geo.match is not None and geo.match.street == found
    assert (decision.kind, geo.doubt) == (DecisionKind.CONFIRM_BY_SMS, "street_differs")


def test_articles_before_the_type_guess_no_number(
    acts: GeocodeActivities, catalogue: Catalogue, territory: Territory
) -> None:
    # Seed 9909 (dev): « je suis au de la traverse Etienne Brondino » (the number lost) booked
    # number 4, guessed from « traverse » (as « impasse » once gave 1).
    for said, guessed in (
        ("Je suis au de la traverse Chave, treize mille cinq. Une armoire.", []),
        ("Je suis au cadre en passe Chave, treize mille cinq. Une armoire.", ["4"]),
        # Seed 1212 (dev): « au et un cours Foch » (« vingt » lost) booked 5 for 21.
        ("Je suis au et un cours Foch à Aubagne. Une armoire.", []),
        # Seed 3101 (dev): « au vingt et saint-victor » (« un » lost) booked 20, then 5 (the
        # sound of « et s… »): a cut number is none, and no guess is made from what follows.
        ("J'habite au vingt et saint-victor, treize mille sept. Une armoire.", []),
        # Its tens heard as another word, the number is still guessed.
        ("Je suis au vent et un boulevard Chave, treize mille cinq. Une armoire.", ["21"]),
    ):
        u = understand(said, "+33611223344", catalogue, territory)
        assert propose(acts, said, u.address).housenumbers[:1] == guessed, said


@pytest.mark.parametrize(
    ("place", "outside"),
    [
        # Seed 1212 (dev): « lieu-dit Les Bastidosn, à Roones » (Rognes) was out of the
        # territory; a name closer to one inside is a misspelling, confirmed, never booked.
        ("à Roones", False),
        # Seed 3101: a lieu-dit named beside its commune (« à Huile, à Marseille »).
        ("à Huile, à Marseille", False),
        ("à Lyon, à Marseille", False),
        ("à Tuolon", True),  # Toulon misspelled: closer to the outside list
        ("à Kavayon", True),  # Cavaillon as Whisper wrote it (audio corpus 4646)
        # Whisper's garble of a place inside, or of nothing (audio corpus 4646: three callers
        # inside were sent out of the territory): confirmed, never out, never booked. So is a
        # city no list knows (the lists are the département's and its neighbours').
        ("à Rd", False),
        ("à Téh", False),
        ("à Exxon Provence", False),
        ("à Lyon", False),
    ],
)
def test_a_place_no_list_knows_is_outside_only_when_nothing_says_inside(
    acts: GeocodeActivities, catalogue: Catalogue, territory: Territory, place: str, outside: bool
) -> None:
    said = f"J'habite au douze rue Paradou, {place}. Je voudrais faire enlever une armoire."
    _, geo, decision = _decide(acts, catalogue, territory, said)
    assert (decision.kind == DecisionKind.OUT_OF_TERRITORY) == outside, (geo.status, geo.reason)
    assert decision.kind != DecisionKind.BOOK, geo.match


def test_a_pronoun_after_a_is_no_city(catalogue: Catalogue, territory: Territory) -> None:
    # Seed 9909: « Christine Barthélémy à Je suis au soixante-trois chemin … » (« l'appareil »
    # lost) made « Je » a city outside the territory.
    said = "Bonsoir, Christine Roux à Je suis au douze rue Paradis. Une armoire."
    u = understand(said, "+33611223344", catalogue, territory)
    assert u.address is not None and u.address.city == ""


def test_a_street_heard_only_as_the_house_number_is_confirmed(
    tmp_path: Path, catalogue: Catalogue, territory: Territory
) -> None:
    # Audio corpus 4646: « je suis de 9, l'outre la Valentin » (au neuf route de la Valentine)
    # was booked « 9 Boulevard Neuf » at 0.997: the number's sound was the street's too.
    streets = [("Boulevard Neuf", "13005", "13205", 5.389)]
    acts = search_activities(tmp_path, street_rows(streets), SEARCH_SECTORS, territory)
    for said in (
        "Bonjour, je suis de 9, l'outre la Valentin, je voudrais me débarrasser d'une armoire.",
        "Je suis de neuf. Une armoire.",
    ):
        _, geo, decision = _decide(acts, catalogue, territory, said)
        assert geo.match is not None and geo.match.street == "Boulevard Neuf"
        assert (decision.kind, geo.doubt) == (DecisionKind.CONFIRM_BY_SMS, "street_differs")
