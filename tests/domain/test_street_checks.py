"""Whether the street found is the street said (domain/street_checks.py): a transcription's
slips pass; another type, another name, a name found only in part do not (issue 16)."""

from __future__ import annotations

from domain.street_checks import (
    street_disagrees,
    street_name_unlike,
    street_only_number,
    street_partly_said,
    street_type_contradicts,
    street_type_differs,
    street_within,
    street_word_replaced,
)


def test_a_street_of_another_type_and_another_name_disagrees() -> None:
    # dev0037 of the corpus: a street the gazetteer lacks, booked as its nearest namesake.
    assert street_disagrees("chemin augustin roubion", "Rue Augustin Roux")
    # The type alone, or a misspelled name alone, is not both (the type alone is
    # street_type_contradicts's, below).
    assert not street_disagrees("rue paradis", "Avenue Paradis")
    assert not street_disagrees("rue paradis", "Boulevard Paradis")
    assert not street_disagrees("chemin chausseggros", "Boulevard Chaussegros")
    assert not street_disagrees("boulevard chausegro", "Boulevard Chaussegros")
    # No type said: nothing to contradict.
    assert not street_disagrees("augustin roubion", "Rue Augustin Roux")


def test_a_street_found_inside_a_longer_name_said_is_another_street() -> None:
    # Seed 6606 of the corpus (dev): a street the gazetteer lacks, « Giay » inside « figuiers ».
    assert street_within("rue des trois figuiers", "Rue Giay")
    assert street_within("traverse des roses trémières", "Rue Sainte")
    # Slips of a short name, a name said in part or in full: the same street.
    assert not street_within("avenue pina", "Avenue des Pins")
    assert not street_within("cours foeh", "Cours Foch")
    assert not street_within("avenue lily pastré", "Avenue Comtesse Lily Pastré")
    assert not street_within("boulevard chausegro", "Boulevard Chaussegros")
    # A title or first name the gazetteer leaves out: every word found was said.
    assert not street_within("avenue du maréchal foch", "Avenue Foch")
    assert not street_within("place du général de gaulle", "Place de Gaulle")
    assert not street_within("rue du docteur escat", "Rue Escat")
    # No type said: the parser's name may hold anything.
    assert not street_within("trois figuiers", "Rue Giay")


def test_a_street_type_said_that_contradicts_the_one_found() -> None:
    # Seed 9909 (dev): a street the gazetteer lacks booked as its namesake of another type.
    assert street_type_contradicts("allée de la source", "Escalier de la Source")
    assert street_type_contradicts("place de la mairie", "Rue de la Mairie")
    # A caller's shorthand is confirmed too (the corpus has none to weigh it).
    assert street_type_contradicts("rue paradis", "Avenue Paradis")
    # Related types, no type said, no type found: no contradiction.
    assert not street_type_contradicts("boulevard paradis", "Avenue Paradis")
    assert not street_type_contradicts("paradis", "Rue Paradis")
    assert not street_type_contradicts("lieu-dit les naps", "Les Naps")
    assert not street_type_contradicts("rue paradis", "Rue Paradis")


def test_an_untyped_name_found_in_part_is_another_street() -> None:
    # Seed 8808 of the corpus (dev): « chemin » lost, a street of one of the words booked.
    assert street_partly_said("de Siant-Antoine à Saint-Joseph", "Impasse Saint-Joseph")
    assert street_partly_said("Grnaet aux Oilves", "Avenue des Olives")
    # Every word (from 4 letters, particles and titles aside) is the street's, as heard.
    assert not street_partly_said("Victor Hugo", "Avenue Victor Hugo")
    assert not street_partly_said("de la Galinette", "Impasse de la Galinette")
    assert not street_partly_said("Paradi", "Rue Paradis")
    assert not street_partly_said("du Maréchal Foch", "Avenue Foch")
    # No word of the street found at all: the search's business, not this rule's.
    assert not street_partly_said("Hélène Faure", "Impasse des Fauvettes")
    # A typed name: street_within judges it (a typed name's extra words are most often the
    # caller's own: « lieu-dit Les Bréguières »).
    assert not street_partly_said("chemin de Saint-Antoine à Saint-Joseph", "Impasse Saint-Joseph")


def test_a_street_type_said_other_than_the_one_found_is_confirmed() -> None:
    # Seed 2121 (dev): « chemin du Vieux Moulin » (not in the gazetteer) booked as « Traverse
    # du Vieux Moulin » at 0.55: a related type still names another street.
    assert street_type_differs("chemin du vieux moulin", "Traverse du Vieux Moulin")
    assert street_type_differs("boulevard paradis", "Avenue Paradis")
    assert not street_type_differs("rue paradis", "Rue Paradis")
    assert not street_type_differs("paradis", "Rue Paradis")  # no type said
    assert not street_type_differs("lieu-dit les naps", "Les Naps")  # no type found


def test_a_word_of_the_name_said_in_place_of_another_is_another_street() -> None:
    # Seed 2222 (dev): « rue augustin roubion » (not in the gazetteer) booked as « Rue
    # Augustin Roux » at 0.69.
    assert street_word_replaced("rue augustin roubion", "Rue Augustin Roux")
    assert street_word_replaced("avenue jean moulin", "Avenue Jean Jaurès")
    # Misspellings of the same words, a title left out, a name of one word: the same street.
    assert not street_word_replaced("rue augustin rou", "Rue Augustin Roux")
    assert not street_word_replaced("rue augstin roux", "Rue Augustin Roux")
    assert not street_word_replaced("avenue du maréchal foch", "Avenue Foch")
    assert not street_word_replaced("rue paradie", "Rue Paradis")
    # Untyped names are street_partly_said's.
    assert not street_word_replaced("augustin roubion", "Rue Augustin Roux")


def test_a_name_with_no_word_alike_is_another_street() -> None:
    # Seed 5505 (dev): « rue Clovvis Huues Aîné » (Clovis Hugues Aîné, not in the gazetteer)
    # booked as « Rue Claudie Scheiner » at 0.73.
    assert street_name_unlike("rue Clovvis Huues Aîné", "Rue Claudie Scheiner")
    # Misspelled words are still alike (the development seeds' right bookings).
    assert not street_name_unlike("chemin des Vinges", "Chemin des Vignes")
    assert not street_name_unlike("cours Caront", "Cours Carnot")
    assert not street_name_unlike("lieu-dit Les Nps", "Les Naps")
    assert not street_name_unlike("rue Millua", "Rue Millau")
    # No name word on a side, or one untyped word (the audio vote's to read): other rules'
    # business.
    assert not street_name_unlike("Clovvis", "Rue Claudie Scheiner")
    assert not street_name_unlike("rue du Rove", "Rue")
    # Untyped words of Whisper's, none like the street the vote chose (audio corpus 4646:
    # « C'est le 5e et à terre et bas, si moi » for « 51 ter rue Berthe Simon », booked as
    # « 5 Impasse Revah » at 0.985).
    assert street_name_unlike("e et à terre et bas", "Impasse Revah")
    assert street_name_unlike("Clovvis Huues", "Rue Claudie Scheiner")
    assert not street_name_unlike("cadre en passe du prêt", "Impasse Dupré")


def test_a_street_heard_only_as_a_number_is_no_street() -> None:
    # Audio corpus 4646: « je suis de 9, l'outre la Valentin » (au neuf route de la Valentine)
    # booked « 9 Boulevard Neuf » at 0.997: the house number's sound matched the street.
    assert street_only_number("de 9")
    assert street_only_number("au douze")
    # A typed name, or a name with a word of its own, is a street's.
    assert not street_only_number("boulevard neuf")
    assert not street_only_number("du 4 septembre")
    assert not street_only_number("")


def test_whisper_slips_in_a_name_are_no_other_street() -> None:
    # ../shared/voicemails vm014 and vm016, as Whisper wrote them: the right street.
    for said, found in (
        ("boulevard Jean-Dark", "Boulevard Jeanne d'Arc"),
        ("avenue contexte en Lily", "Avenue Comtesse Lily Pastré"),
        ("avenue contexte", "Avenue Comtesse Lily Pastré"),
    ):
        assert not street_word_replaced(said, found)
        assert not street_name_unlike(said, found)


def test_a_longer_name_said_whose_found_word_was_not_said_is_another_street() -> None:
    # Seed 2828 (dev): « boulevard Victorin Garcin » (not in the gazetteer) booked as
    # « Boulevard Victor » at 0.55. Text only: Whisper's leftovers after a name are no
    # caller's words, so with the audio's vote the names must have as many words.
    said, found = "boulevard Victorin Garcin", "Boulevard Victor"
    assert street_word_replaced(said, found, same_length=False)
    assert not street_word_replaced(said, found)
    # Every word found said as such: the caller's own words after it.
    assert not street_word_replaced(
        "allée des glaieuls merlan", "Allée des Glaieuls", same_length=False
    )
    assert not street_word_replaced("route du rove aux riaux", "Route du Rove", same_length=False)
    assert not street_word_replaced(
        "chemin vicinal de la millière",
        "Chemin Vicinal de la Millière à Saint-Menet",
        same_length=False,
    )
