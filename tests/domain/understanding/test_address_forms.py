"""How French callers say a house number beside the street: after the name (« lieu-dit Les
Naps, au numéro onze »), or corrected (« au dix rue X, euh non, pardon, au douze »). Written
from the rules of spoken French and from what a transcription keeps of them (lost commas,
lower case)."""

from __future__ import annotations

import pytest

from tests.domain.understanding.conftest import Run, address


@pytest.mark.parametrize(
    "said",
    [
        "J'habite au dix rue Paradis, euh non, pardon, au douze, à Marseille.",
        "J'habite au dix rue Paradis euh non pardon au douze à Marseille.",
        "J'habite au dix rue Paradis, non, pardon, douze, à Marseille.",
        "j'habite au dix rue paradis non pardon au douze marseille.",
        "J'habite au dix rue Paradis, je veux dire au douze, à Marseille.",
    ],
)
def test_the_number_the_caller_corrected_to_is_kept(run: Run, said: str) -> None:
    a = address(run(said + " Je voudrais faire enlever une armoire."))
    assert a.housenumber == "12"
    # The correction is no part of the street's name.
    assert a.street == "Rue Paradis"


def test_a_corrected_number_keeps_its_bis(run: Run) -> None:
    u = run("Je suis au trois rue Paradis, euh non, au cinq bis. C'est pour une armoire.")
    assert address(u).housenumber == "5 bis"


def test_a_correction_before_the_street_is_read_as_before(run: Run) -> None:
    u = run("J'habite au dix, non pardon, au douze rue Paradis. C'est pour une armoire.")
    assert address(u).housenumber == "12"


def test_a_correction_to_another_street_keeps_the_later_street(run: Run) -> None:
    u = run(
        "J'habite au dix rue Paradis, non pardon, au trois avenue du Prado. C'est pour une armoire."
    )
    assert (address(u).housenumber, address(u).street) == ("3", "Avenue du Prado")


def test_two_streets_without_a_correction_keep_the_best_one(run: Run) -> None:
    u = run("J'habite au dix rue Paradis, à côté de l'avenue du Prado. C'est pour une armoire.")
    assert (address(u).housenumber, address(u).street) == ("10", "Rue Paradis")


@pytest.mark.parametrize(
    ("said", "number"),
    [
        ("J'habite au lieu-dit Les Bastidons, au numéro trois, à Rognes.", "3"),
        ("J'habite au lieu-dit Les Bastidons, au onze, à Rognes.", "11"),
        (
            "j'habite au lieu-dit les bastidons au numéro sept treize mille huit cent quarante "
            "rognes.",
            "7",
        ),
        ("J'habite rue Paradis, au numéro quatorze, dans le sixième.", "14"),
    ],
)
def test_a_number_said_after_the_name(run: Run, said: str, number: str) -> None:
    a = address(run(said + " Je voudrais me débarrasser d'un matelas."))
    assert a.housenumber == number


@pytest.mark.parametrize(
    "said",
    [
        # A bare number after the name may be anything: no word introduces it.
        "J'habite rue Paradis, douze, à Marseille.",
        # A count of items, not a house number.
        "J'habite rue Paradis, au moins deux chaises à enlever.",
        # The number of another sentence.
        "J'habite rue Paradis. Le deux, je ne suis pas là.",
    ],
)
def test_no_number_is_made_up_after_the_name(run: Run, said: str) -> None:
    assert address(run(said + " C'est pour une armoire.")).housenumber == ""


def test_a_phone_number_after_the_street_is_not_a_house_number(run: Run) -> None:
    u = run(
        "J'habite rue Paradis, au zéro six, douze, trente-quatre, cinquante-six, "
        "soixante-dix-huit. C'est pour une armoire."
    )
    assert address(u).housenumber == ""


def test_a_message_without_a_street_has_no_street(run: Run) -> None:
    assert run("Bonjour, je voudrais faire enlever une armoire. Merci.").address is None


@pytest.mark.parametrize(
    ("said", "street"),
    [
        ("J'habite au quatre boulevard Gueidon Gueidon G U E I D O N.", "Boulevard Gueidon"),
        # Misheard twice, spelled right: the letters win.
        ("J'habite au quatre boulevard Gueodon Gueiidon G U E I D O N.", "Boulevard Gueidon"),
        ("j'habite au quatre rue roubaud roubo r o u b a u d.", "Rue Roubaud"),
        # Only the word spelled changes.
        ("J'habite au quatre avenue Jean Jorès J A U R E S.", "Avenue Jean Jaures"),
        # With its commas the name already ends before the letters.
        ("J'habite au quatre boulevard Gueidon, Gueidon, G U E I D O N.", "Boulevard Gueidon"),
        # No type heard: the first word of the name is the one spelled, or said again.
        ("J'habite au quatre Ollympe Oiympe O L Y M P E.", "Olympe"),
        ("J'habite au quatre Olympe O L Y M P E.", "Olympe"),
        # A long name: the letters count for no word of it (they were cut short).
        (
            "J'habite au quatre Vallon de la Baudille Baudille B A U D I L L E treize mille sept.",
            "Vallon de la Baudille",
        ),
        # A spelled « L » is no « l' » before the postcode; « à » after the letters is no letter.
        (
            "J'habite au quatre traverse Grandval Grandval G R A N D V A L treize mille neuf.",
            "Traverse Grandval",
        ),
        ("J'habite au quatre avenue des Piins Pins P I N S à Allauch.", "Avenue des Pins"),
        # Seed 2222 (dev): after the name's comma, the word said again and its spelling
        # (« impasse Caprieieuse, Capricieuse, C A P R I C I E U S E » kept the misspelling).
        (
            "J'habite au quatre impasse Caprieieuse, Capricieuse, C A P R I C I E U S E, à "
            "Marseille.",
            "Impasse Capricieuse",
        ),
        ("J'habite au quatre rue Rubaud, R O U B A U D, à Marseille.", "Rue Roubaud"),
        # The word spelled, said again, is no word of the name; a sentence apart spells
        # nothing of it.
        ("J'habite au quatre rue Martail Reynaud, Martal, M A R T I A L.", "Rue Martial Reynaud"),
        ("J'habite au quatre rue Rubaud. R O U B A U D.", "Rue Rubaud"),
    ],
)
def test_the_letters_spelled_after_the_name_replace_the_word_they_spell(
    run: Run, said: str, street: str
) -> None:
    a = address(run(said + " C'est pour une armoire."))
    assert (a.housenumber, a.street) == ("4", street)


def test_letters_that_spell_no_word_of_the_name_are_dropped(run: Run) -> None:
    a = address(run("J'habite au quatre boulevard Paradis X Y Z. C'est pour une armoire."))
    assert a.street == "Boulevard Paradis"


@pytest.mark.parametrize("place", ["Saint-Henri", "Endoume", "Enodume"])
def test_a_quartier_named_as_the_place_is_no_other_commune(run: Run, place: str) -> None:
    a = address(run(f"J'habite à {place}, au six rue Alphonse Gaudot. C'est pour une armoire."))
    assert (a.housenumber, a.street) == ("6", "Rue Alphonse Gaudot")
    assert a.city == ""


@pytest.mark.parametrize(
    "place",
    # Outside communes, also those that start or sound like a quartier (Saint-Pierre, Les
    # Mourets), and a name longer than the quartier it starts with.
    ["Toulon", "Arles", "Brignoles", "Saint-Pierre-de-Mézoargues", "Mouriès", "Endoume Village"],
)
def test_a_commune_outside_is_still_heard(run: Run, place: str) -> None:
    a = address(run(f"J'habite à {place}, au six rue Alphonse Gaudot. C'est pour une armoire."))
    assert a.city == place


@pytest.mark.parametrize(
    ("said", "number"),
    [
        # The number after the name, then taken back: the later one, flagged as corrected.
        ("J'habite rue Paradis, au dix, non, au douze. Une armoire.", "12"),
        ("J'habite rue Paradis, au dix, euh pardon, au douze. Une armoire.", "12"),
        # Taken back with no other number: the one heard, flagged all the same.
        ("J'habite rue Paradis, au dix, non pardon. Une armoire.", "10"),
    ],
)
def test_a_number_taken_back_after_the_name_is_flagged_as_corrected(
    run: Run, said: str, number: str
) -> None:
    a = address(run(said))
    assert (a.housenumber, a.corrected) == (number, True)


@pytest.mark.parametrize(
    "said",
    [
        "J'habite rue Paradis, au numéro douze à Marseille. Une armoire.",
        "J'habite rue Paradis, au douze dans le sixième. Une armoire.",
        "J'habite rue Paradis, au 12 13006 Marseille. Une armoire.",
        "J'habite rue Paradis, c'est le 12. Une armoire.",
    ],
)
def test_a_number_after_the_name_followed_by_the_locality_is_read(run: Run, said: str) -> None:
    a = address(run(said))
    assert (a.housenumber, a.corrected) == ("12", False)


@pytest.mark.parametrize(
    "said",
    [
        "J'habite rue Paradis, le 12 décembre ce serait bien. Une armoire.",
        "J'habite rue Paradis, le 12, ça m'irait bien. Une armoire.",
        "J'habite rue Paradis, au 12 à 14 heures. Une armoire.",
    ],
)
def test_a_date_or_a_time_after_the_name_is_no_house_number(run: Run, said: str) -> None:
    assert address(run(said)).housenumber == ""


def test_a_street_the_caller_took_back_flags_the_address_as_corrected(run: Run) -> None:
    a = address(run("J'habite au dix rue Paradis, pardon, au dix rue Breteuil. Une armoire."))
    assert (a.street, a.corrected) == ("Rue Breteuil", True)


def test_near_a_street_takes_nothing_back(run: Run) -> None:
    a = address(run("J'habite au dix rue Paradis, non loin de l'avenue du Prado. Une armoire."))
    assert (a.housenumber, a.street, a.corrected) == ("10", "Rue Paradis", False)


@pytest.mark.parametrize(
    "said",
    [
        "Je suis au et un boulevard Rancurel, Marseille onzième.",
        "j'habite au et onze rue Paradis treize mille six marseille",
    ],
)
def test_a_number_that_lost_its_tens_is_no_house_number(run: Run, said: str) -> None:
    """« trente et un » heard « et un »: 1 is not what the caller said."""
    a = address(run(said))
    assert a.street and a.housenumber == ""


@pytest.mark.parametrize(
    ("said", "number"),
    [
        ("J'habite au trente et un boulevard Rancurel, Marseille.", "31"),
        ("au soixante et onze rue Paradis, treize mille six Marseille", "71"),
        ("au un boulevard Rancurel, à Marseille", "1"),
        # Cut from its tens by a pause or a hesitation: joined back.
        ("J'habite au trente, et un boulevard Rancurel, 13011 Marseille.", "31"),
        ("au trente euh et un boulevard Rancurel, Marseille", "31"),
        ("au soixante, et onze rue Paradis, treize mille six Marseille", "71"),
        # A building « 9–11 »: as before, the number beside the street.
        ("au neuf et onze rue Paradis, treize mille six Marseille", "11"),
    ],
)
def test_whole_numbers_ending_in_et_un_stay(run: Run, said: str, number: str) -> None:
    assert address(run(said)).housenumber == number


def test_excusez_moi_takes_the_number_back(run: Run) -> None:
    a = address(run("J'habite rue Paradis, au dix, non excusez-moi, au douze, à Marseille."))
    assert a.housenumber == "12" and a.corrected


def test_an_apology_after_the_number_corrects_nothing(run: Run) -> None:
    a = address(run("J'habite rue Paradis, au douze, excusez-moi pour le bruit, à Marseille."))
    assert a.housenumber == "12" and not a.corrected


@pytest.mark.parametrize(
    ("said", "street"),
    [
        # The commas lost, the type lost: the correction was read as the street's name.
        ("j'habite au dix paradis non pardon au douze à marseille.", "paradis"),
        (
            "Je suis au vingt-trois Victor Hugo non pardon au douze à Aix-en-Provence.",
            "Victor Hugo",
        ),
        # A commune the transcription misspelled after the number corrected to.
        ("je suis au dix avenue de verdun euh non pardon au douze à Prtuis.", "avenue de verdun"),
    ],
)
def test_a_number_taken_back_after_the_name_without_commas(
    run: Run, said: str, street: str
) -> None:
    a = address(run(said + " Je voudrais faire enlever une armoire."))
    assert (a.housenumber, a.street.lower(), a.corrected) == ("12", street.lower(), True)


@pytest.mark.parametrize(
    ("said", "street", "postcode"),
    [
        # The commas lost: the postcode said in words was read as part of the street's name.
        ("j'habite au six mozart treize mille neuf marseille.", "mozart", "13009"),
        ("j'habite au six avenue mozart treize mille neuf marseille.", "avenue mozart", "13009"),
        ("j'habite au douze chave treize zéro zéro cinq.", "chave", "13005"),
    ],
)
def test_a_postcode_in_words_ends_the_street_name(
    run: Run, said: str, street: str, postcode: str
) -> None:
    a = address(run(said + " C'est pour une armoire."))
    assert (a.street.lower(), a.postcode) == (street, postcode)


@pytest.mark.parametrize(
    "said",
    [
        "J'habite au douze rue des treize coins à Marseille. Une armoire.",
        # Untyped: the region's own words are the name.
        "J'habite au douze des treize coins à Marseille. Une armoire.",
    ],
)
def test_a_street_named_with_a_number_keeps_it(run: Run, said: str) -> None:
    # « treize » alone is no postcode: the name goes on.
    assert "treize coins" in address(run(said)).street.lower()


def test_a_misspelled_commune_ends_an_untyped_street_name(run: Run) -> None:
    # Seed 8808 (dev): « gambetta à salou-de-provence » was searched whole, and « Avenue de
    # Provence » of Marseille came first.
    a = address(run("je suis au sept gambetta à salou-de-provence. je voudrais trois frigos."))
    assert (a.housenumber, a.street, a.city) == ("7", "gambetta", "Salon-de-Provence")


def test_the_verb_a_is_no_place_for_a_misspelled_commune(run: Run) -> None:
    # « a » without its accent is the verb, or a message typed without accents: the lookups
    # that read a misspelled commune (domain.trust) need « à »; so do these rules.
    a = address(run("je suis au sept gambetta a salou-de-provence. je voudrais trois frigos."))
    assert a.city != "Salon-de-Provence"
    assert "salou" in a.street


@pytest.mark.parametrize(
    ("said", "street"),
    [
        # Seed 2424 (dev): « boulevard de la Farigoule à la Millière à Marseille » searched the
        # quartier as the street's name (Boulevard de la Millière).
        (
            "Je suis au trente-trois boulevard de la Farigoule à la Millière à Marseille.",
            "Boulevard de la Farigoule",
        ),
        (
            "Je suis au trente-trois boulevard de la Farigoule à la Pomme, 13011.",
            "Boulevard de la Farigoule",
        ),
        # Seed 2727 (dev): « aux » is « à » and the quartier's article in one.
        ("Je suis au un impasse Mélèze aux Olives à Marseille.", "Impasse Mélèze"),
        # A road's name may run from a place to another (« Chemin du Merlan à La Rose »).
        (
            "Je suis au trente-trois chemin du Merlan à la Rose, 13013.",
            "Chemin du Merlan à la Rose",
        ),
    ],
)
def test_a_quartier_after_the_street_ends_its_name(run: Run, said: str, street: str) -> None:
    assert address(run(said + " C'est pour une armoire.")).street == street


def test_a_name_may_start_with_a_number_once_the_house_number_is_said(run: Run) -> None:
    # Seed 2828 (dev): « au trois de l'allée Deux Feères Freschi » (« des » lost) read no typed
    # street, and « Deux » as the house number: 2 was booked for 3.
    a = address(run("Je suis au trois de l'allée Deux Feères Freschi. Trois poussettes."))
    assert (a.housenumber, a.street) == ("3", "Allée Deux Feères Freschi")
    # Without a number before the type, or the same number said again, a number after it is
    # still no name.
    a = address(run("Je suis allée Deux. Trois poussettes."))
    assert not a.street.startswith("Allée Deux")
    a = address(run("J'habite au douze boulevard douze Michelet. Trois poussettes."))
    assert not a.street.startswith("Boulevard douze")


@pytest.mark.parametrize(
    "said",
    [
        # Seed 2929 (dev): the end of a hyphenated name said again to be spelled (« rue
        # saint-antoine antoine a n t o i n e »): « Rue du Puits Saint-Antoine » was booked.
        "J'habite au neuf rue saint-antoine antoine a n t o i n e à Marseille.",
        "J'habite au neuf rue saint-antonie, antoine, a n t o i n e, à Marseille.",
    ],
)
def test_the_end_of_a_hyphenated_name_said_again_is_spelled(run: Run, said: str) -> None:
    a = address(run(said + " Trois chaises."))
    assert (a.housenumber, a.street) == ("9", "Rue Saint-Antoine")


def test_another_number_after_the_street_is_the_one_corrected_to(run: Run) -> None:
    # Seed 3131 (dev): « au quatorze rue de l'Église euh au douze à Allauch » booked 14: a
    # hesitation alone took the first number back.
    a = address(run("Je suis au quatorze rue de l'Église euh au douze à Allauch. Une table."))
    assert (a.housenumber, a.corrected) == ("12", True)
    # The same number said again, a floor or a date after the street correct nothing.
    for said in (
        "Je suis au quatorze rue de l'Église, au quatorze, à Allauch.",
        "Je suis au quatorze rue de l'Église, au 3e étage, à Allauch.",
        "Je suis au quatorze rue de l'Église au 3 étage à Allauch.",
        "Je suis au quatorze rue de l'Église, le 15 je ne suis pas là.",
    ):
        a = address(run(f"{said} Une table."))
        assert (a.housenumber, a.corrected) == ("14", False), said


def test_a_word_spelled_in_a_sentence_after_the_address_corrects_it(run: Run) -> None:
    # Seed 2626 (dev): « au sept traverse des Peurluns. Pourlons, ça s'écrit P O U R L U N S. »
    # The letters change the name: confirmed, never booked blindly.
    a = address(
        run("Je suis au sept traverse des Peurluns. Pourlons, ça s'écrit P O U R L U N S. Un lit.")
    )
    assert (a.housenumber, a.street, a.corrected) == ("7", "Traverse des Pourluns", True)
    # The « c » of « c'est » after the letters is no letter of them.
    a = address(
        run("Je suis au quatre Aubert, Marseille. Aubert, ça s'écrit A U B E R T c'est tout.")
    )
    assert (a.street, a.corrected) == ("Aubert", False)


@pytest.mark.parametrize(
    "said",
    [
        # The caller's name spelled (a review's case), or letters of another word than the
        # one said before them: the street stays as heard.
        "J'habite au 4 rue Fabre. Je suis Madame Favre, ça s'écrit F A V R E.",
        "J'habite au 4 rue Fabre. Mon nom, Favre, ça s'écrit F A V R E.",
        "J'habite au 4 rue Fabre. Le code, ça s'écrit F A V R E.",
    ],
)
def test_letters_spelled_for_another_word_leave_the_street(run: Run, said: str) -> None:
    a = address(run(f"{said} Un lit."))
    assert (a.street, a.corrected) == ("Rue Fabre", False)
