"""Candidates + audio scores resolved into one address and a calibrated confidence
(activities/geo/resolver.py), on the small synthetic territory of helpers.py."""

from __future__ import annotations

from activities.geocode import GeocodeActivities
from domain.address_models import AddressCandidates, AddressScores, ResolveAddressInput
from domain.decision import AUDIO_BOOK_THRESHOLD, BOOK_THRESHOLD, DecisionKind, decide_address
from domain.models import GeocodeResult, GeocodeStatus, SpokenAddress
from tests.activities.geo.helpers import propose


def _candidates(acts: GeocodeActivities) -> AddressCandidates:
    return propose(
        acts,
        "J'habite au sept rue des lilas, treize mille cinq.",
        SpokenAddress(housenumber="7", street="Rue des lilas", postcode="13005", citycode="13205"),
    )


def resolve(acts, cands, scores=None, spoken=None):
    return acts.resolve_address(
        ResolveAddressInput(candidates=cands, scores=scores, address=spoken)
    )


def test_a_clear_audio_winner_is_booked(acts: GeocodeActivities) -> None:
    cands = _candidates(acts)
    k = [c.street for c in cands.candidates].index("Rue des Lilas")
    street_scores = [10.0] * len(cands.candidates)
    street_scores[k] = 40.0
    numbers = cands.candidates[k].numbers
    number_scores = [20.0 + (15 if n == "7" else 0) for n in numbers]
    geo = resolve(
        acts,
        cands,
        AddressScores(
            street_scores=street_scores,
            number_street=k,
            numbers=numbers,
            number_scores=number_scores,
        ),
    )
    assert geo.status == GeocodeStatus.MATCHED
    assert geo.match is not None
    assert (geo.match.housenumber, geo.match.street, geo.match.sector) == (
        "7",
        "Rue des Lilas",
        "13205",
    )
    assert geo.match.score > 0.99
    assert decide_address(geo).kind == DecisionKind.BOOK
    # Voted on by the audio: the audio path's committed threshold travels with the result;
    # the words alone keep theirs.
    assert geo.book_threshold == AUDIO_BOOK_THRESHOLD
    assert resolve(acts, cands).book_threshold == BOOK_THRESHOLD


def test_a_near_tie_on_the_number_is_confirmed_by_sms(acts: GeocodeActivities) -> None:
    cands = _candidates(acts)
    cands.parsed_housenumber = ""  # the number was only guessed from the words
    k = [c.street for c in cands.candidates].index("Rue des Lilas")
    street_scores = [10.0] * len(cands.candidates)
    street_scores[k] = 40.0
    numbers = cands.candidates[k].numbers
    number_scores = [20.0 + {"7": 10.0, "17": 9.5}.get(n, 0.0) for n in numbers]
    geo = resolve(
        acts,
        cands,
        AddressScores(
            street_scores=street_scores,
            number_street=k,
            numbers=numbers,
            number_scores=number_scores,
        ),
    )
    decision = decide_address(geo)
    assert decision.kind == DecisionKind.CONFIRM_BY_SMS
    offered = [(c.housenumber, c.street) for c in decision.candidates]
    assert offered[:2] == [("7", "Rue des Lilas"), ("17", "Rue des Lilas")]


def test_two_streets_the_audio_cannot_separate_are_offered(acts: GeocodeActivities) -> None:
    cands = propose(acts, "J'habite au sept lilas.", SpokenAddress(housenumber="7", street="lilas"))
    lilas = [k for k, c in enumerate(cands.candidates) if "Lilas" in c.street]
    street_scores = [0.0] * len(cands.candidates)
    for k in lilas:
        street_scores[k] = 30.0
    best = lilas[0]
    numbers = cands.candidates[best].numbers
    number_scores = [10.0 + (20 if n == "7" else 0) for n in numbers]
    geo = resolve(
        acts,
        cands,
        AddressScores(
            street_scores=street_scores,
            number_street=best,
            numbers=numbers,
            number_scores=number_scores,
        ),
    )
    assert geo.match is not None
    assert geo.match.score < 0.8
    decision = decide_address(geo)
    assert decision.kind in (DecisionKind.CONFIRM_BY_SMS, DecisionKind.ESCALATE)
    assert decision.kind != DecisionKind.BOOK


def test_text_only_exact_street_and_parsed_number(acts: GeocodeActivities) -> None:
    spoken = SpokenAddress(
        housenumber="12", street="Rue Breteuil", postcode="13006", citycode="13206"
    )
    cands = propose(acts, "J'habite au 12 rue Breteuil, 13006.", spoken)
    geo = resolve(acts, cands, None, spoken)
    assert geo.match is not None
    assert (geo.match.housenumber, geo.match.street) == ("12", "Rue Breteuil")


def test_no_number_heard(acts: GeocodeActivities) -> None:
    spoken = SpokenAddress(street="Chemin de la Madrague", postcode="13006")
    cands = propose(acts, "Mon adresse, c'est chemin de la Madrague, 13006.", spoken)
    cands.housenumbers = []
    geo = resolve(acts, cands, None, spoken)
    assert geo.status == GeocodeStatus.NUMBER_NOT_FOUND
    assert geo.candidates[0].street == "Chemin de la Madrague"
    assert decide_address(geo).kind == DecisionKind.ESCALATE


def test_a_city_outside_the_territory(acts: GeocodeActivities) -> None:
    spoken = SpokenAddress(housenumber="3", street="rue des lilas", city="Toulon")
    cands = propose(acts, "J'habite au 3 rue des lilas à Toulon.", spoken)
    cands.candidates = [c for c in cands.candidates if c.text_score < 0.9] or cands.candidates
    for c in cands.candidates:
        c.text_score = min(c.text_score, 0.8)
    geo = resolve(acts, cands, None, spoken)
    assert geo.status == GeocodeStatus.OUT_OF_TERRITORY


def test_a_postcode_alone_does_not_send_the_call_away(acts: GeocodeActivities) -> None:
    # "treize mille dix" transcribed "10 000": a postcode of another department.
    spoken = SpokenAddress(housenumber="5", street="avenue du prado", postcode="10000")
    cands = propose(acts, "J'habite au cinq avenue du prado 10 000 Marseille.", spoken)
    geo = resolve(acts, cands, None, spoken)
    assert geo.status != GeocodeStatus.OUT_OF_TERRITORY
    assert geo.match is not None and geo.match.street == "Avenue du Prado"


def test_no_candidate(acts: GeocodeActivities) -> None:
    geo = resolve(acts, AddressCandidates(reason="rien"))
    assert geo.status == GeocodeStatus.NOT_FOUND
    assert geo.reason == "rien"


def test_a_number_read_in_the_transcript_breaks_an_audio_near_tie(
    acts: GeocodeActivities,
) -> None:
    cands = _candidates(acts)
    assert cands.parsed_housenumber == "7"
    k = [c.street for c in cands.candidates].index("Rue des Lilas")
    street_scores = [10.0] * len(cands.candidates)
    street_scores[k] = 40.0
    numbers = cands.candidates[k].numbers
    # The audio slightly prefers 17; the transcript said "sept".
    number_scores = [20.0 + {"7": 9.5, "17": 10.0}.get(n, 0.0) for n in numbers]
    geo = resolve(
        acts,
        cands,
        AddressScores(
            street_scores=street_scores,
            number_street=k,
            numbers=numbers,
            number_scores=number_scores,
        ),
    )
    assert geo.match is not None and geo.match.housenumber == "7"


def _vote(cands: AddressCandidates, street: str, number: str, loud: float = 15.0) -> AddressScores:
    """Audio scores that vote clearly for `street` (its first candidate) and `number`."""
    k = [c.street for c in cands.candidates].index(street)
    street_scores = [10.0] * len(cands.candidates)
    street_scores[k] = 40.0
    numbers = cands.candidates[k].numbers
    number_scores = [20.0 + (loud if n == number else 0) for n in numbers]
    return AddressScores(
        street_scores=street_scores, number_street=k, numbers=numbers, number_scores=number_scores
    )


def _clear_winner(acts: GeocodeActivities, text: str, number: str = "7", loud: float = 15.0):
    """Candidates for `text` and audio scores that vote clearly for Rue des Lilas, `number`."""
    cands = propose(
        acts, text, SpokenAddress(housenumber="7", street="Rue des lilas", postcode="13005")
    )
    return cands, _vote(cands, "Rue des Lilas", number, loud)


def test_an_arrondissement_said_that_the_match_contradicts_never_books(
    acts: GeocodeActivities,
) -> None:
    cands, scores = _clear_winner(acts, "J'habite au sept rue des lilas, dans le sixième.")
    geo = resolve(acts, cands, scores)
    assert geo.match is not None and geo.match.score > 0.99
    decision = decide_address(geo)
    assert decision.kind == DecisionKind.ESCALATE
    assert decision.reason == "address_conflict"
    assert "6e" in decision.detail


def test_a_commune_outside_the_territory_never_books(acts: GeocodeActivities) -> None:
    cands, scores = _clear_winner(acts, "J'habite au sept rue des lilas à Tarascon.")
    geo = resolve(acts, cands, scores)
    assert geo.status == GeocodeStatus.OUT_OF_TERRITORY
    assert decide_address(geo).kind == DecisionKind.OUT_OF_TERRITORY


def test_a_looping_transcript_cannot_be_outvoted_by_the_audio(acts: GeocodeActivities) -> None:
    text = "J'habite au sept rue des lilas. " + "Rue des lilas, rue des lilas. " * 10
    cands, scores = _clear_winner(acts, text)
    geo = resolve(acts, cands, scores)
    assert geo.transcript_quality < 0.5
    assert geo.match is not None and geo.match.score < 0.5
    assert decide_address(geo).kind != DecisionKind.BOOK


def test_a_house_number_only_the_audio_vote_chose_never_books(acts: GeocodeActivities) -> None:
    cands, scores = _clear_winner(acts, "J'habite au sept rue des lilas.", number="9", loud=40)
    geo = resolve(acts, cands, scores)
    assert geo.match is not None and geo.match.housenumber == "9"
    decision = decide_address(geo)
    assert decision.kind == DecisionKind.CONFIRM_BY_SMS
    assert decision.reason == "number_not_said"


def test_the_audio_vote_never_chooses_against_the_best_guessed_number(
    acts: GeocodeActivities,
) -> None:
    # vm020: Whisper wrote « garantie » for « quarante-huit »; the guesses from that word were
    # 40, then 46 and 48, and the audio vote took 46. A vote may confirm the transcript's
    # clear best reading (here « sète » → 7), never choose another guess.
    text = "J'habite sète rue des lilas."  # « sept » heard as a word that sounds like it
    cands = propose(acts, text, SpokenAddress(street="Rue des lilas", postcode="13005"))
    assert cands.parsed_housenumber == "" and cands.housenumbers[0] == "7"
    k = [c.street for c in cands.candidates].index("Rue des Lilas")
    numbers = cands.candidates[k].numbers
    other = next(n for n in cands.housenumbers[1:] if n in numbers)
    street_scores = [10.0] * len(cands.candidates)
    street_scores[k] = 40.0

    def vote_for(number: str) -> AddressScores:
        return AddressScores(
            street_scores=street_scores,
            number_street=k,
            numbers=numbers,
            number_scores=[20.0 + (40.0 if n == number else 0) for n in numbers],
        )

    geo = resolve(acts, cands, vote_for(other))
    assert geo.match is not None and geo.match.housenumber == other
    decision = decide_address(geo)
    assert (decision.kind, decision.reason) == (DecisionKind.CONFIRM_BY_SMS, "number_not_said")
    assert "deviné" in decision.detail
    confirmed = decide_address(resolve(acts, cands, vote_for("7")))
    assert confirmed.kind == DecisionKind.BOOK


def test_a_street_said_with_another_type_and_name_never_books(acts: GeocodeActivities) -> None:
    text = "J'habite au sept impasse des lilou."
    cands = propose(
        acts, text, SpokenAddress(housenumber="7", street="impasse des lilou", postcode="13005")
    )
    spoken = SpokenAddress(housenumber="7", street="impasse des lilou", postcode="13005")
    geo = resolve(acts, cands, _vote(cands, "Rue des Lilas", "7"), spoken)
    assert geo.match is not None and geo.match.street == "Rue des Lilas"
    decision = decide_address(geo)
    assert (decision.kind, decision.reason) == (DecisionKind.CONFIRM_BY_SMS, "street_differs")


def test_a_caller_who_corrected_the_address_confirms_it_by_sms(acts: GeocodeActivities) -> None:
    cands, scores = _clear_winner(acts, "J'habite au six, non pardon, au sept rue des lilas.")
    decision = decide_address(resolve(acts, cands, scores))
    assert (decision.kind, decision.reason) == (DecisionKind.CONFIRM_BY_SMS, "self_correction")


def test_an_unsure_decoder_caps_the_audio_vote(acts: GeocodeActivities) -> None:
    cands, scores = _clear_winner(acts, "J'habite au sept rue des lilas.")
    scores.transcript_quality = 0.6  # the segments' log-probabilities were poor
    geo = resolve(acts, cands, scores)
    assert geo.match is not None and geo.match.score <= 0.6
    assert geo.transcript_quality == 0.6
    assert decide_address(geo).kind != DecisionKind.BOOK


def test_a_name_found_in_part_is_doubted_by_the_words_not_after_the_audio_voted(
    acts: GeocodeActivities,
) -> None:
    """« cadre en passe du prêt » for « 4 impasse Dupré »: Whisper's garbled words share only
    part of the name found, which the audio's vote reads through. The words alone doubt it
    (street_partly_said: SMS); the vote's winner is not doubted for it."""
    spoken = SpokenAddress(housenumber="7", street="Mirabelle Chave", postcode="13005")
    text = "J'habite au sept Mirabelle Chave, treize mille cinq."
    cands = propose(acts, text, spoken)
    assert cands.candidates[0].street == "Boulevard Chave"
    words = resolve(acts, cands, spoken=spoken)
    assert words.match is not None and words.doubt == "street_differs"
    street_scores = [10.0] * len(cands.candidates)
    street_scores[0] = 40.0
    numbers = cands.candidates[0].numbers
    voted = resolve(
        acts,
        cands,
        AddressScores(
            street_scores=street_scores,
            number_street=0,
            numbers=numbers,
            number_scores=[20.0 + (15 if n == "7" else 0) for n in numbers],
        ),
        spoken,
    )
    assert voted.match is not None and voted.match.street == "Boulevard Chave"
    assert voted.doubt != "street_differs"


def test_a_round_ten_followed_by_et_never_books_as_heard(acts: GeocodeActivities) -> None:
    # Audio corpus 9999: « vingt-huit cours Carnot » heard « 20 et courkano », booked at 20.
    def vote(text: str, street: str) -> GeocodeResult:
        spoken = SpokenAddress(housenumber="20", street=street, postcode="13005")
        cands = propose(acts, text, spoken)
        return resolve(acts, cands, _vote(cands, "Rue des Lilas", "20"), spoken)

    # The street as the parser leaves it: untyped, the « et » at its head.
    cut = vote("J'habite au 20 et lilas, treize mille cinq.", "et lilas")
    assert cut.match is not None and cut.match.housenumber == "20"
    assert cut.doubt == "number_not_said" and "« et »" in cut.reason
    assert decide_address(cut).kind != DecisionKind.BOOK
    whole = vote("J'habite au 20 rue des lilas, treize mille cinq.", "rue des lilas")
    assert whole.doubt == "" and decide_address(whole).kind == DecisionKind.BOOK
