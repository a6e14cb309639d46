"""The address half of the live-call dialogue (domain/dialogue/machine.py's `Dialogue`):
what each address lookup leads to (read back, the number asked in a likely street, the
postcode typed, the street spelled), and the state that choice keeps. A mixin of the state
machine, split out by concern; pure like it."""

from __future__ import annotations

from dataclasses import replace

from domain.dialogue.readback import (
    clear_street,
    in_street,
    street_to_number,
)
from domain.dialogue.slots import (
    accepted_match,
    spoken_from,
    still_confirmed,
    vote_wanted,
    with_street,
)
from domain.dialogue.steps import EXPECT, KEYS, Lookup, LookupKind, Prompt, Step
from domain.keypad import Field
from domain.live_call_models import LiveCallProgress, Phase, TransferReason
from domain.models import (
    AddressMatch,
    GeocodeResult,
    GeocodeStatus,
    SpokenAddress,
    Understanding,
)
from domain.understanding import Territory

# Postcodes typed outside the territory before a person takes over: one slip is forgiven.
OUTSIDE_POSTCODES = 2


class AddressSteps:
    """The address state and steps of `Dialogue`, which provides what is declared here
    without a body."""

    progress: LiveCallProgress
    _territory: Territory
    _book_threshold: float
    _confirm_threshold: float

    def _init_address(self) -> None:
        self._postcode_asked = False
        self._spelling_asked = False
        self._number_asked = False
        self._typed_number = ""  # a house number typed on the keypad: it cannot be misheard
        self._tried: set[str] = set()  # streets looked up with the typed number
        self._typed_postcode = ""  # typed on the keypad: a place that cannot be misheard
        self._refused_streets: set[str] = set()  # streets the caller said are wrong
        self._words: SpokenAddress | None = None  # the street as the caller last said it
        # The address as the caller said it, while the number of the gazetteer's street is
        # asked (a "non" to that street brings it back).
        self._before_number: SpokenAddress | None = None
        # The street an unaccepted lookup found far ahead of the others (the audio's vote,
        # "Rue Julia" for "rejoulier"), kept for the typed postcode to agree with.
        self._heard_street: AddressMatch | None = None
        self._step_by_step = False  # the address asked one field at a time, once a call
        self._outside_postcodes = 0  # postcodes of no commune of the territory typed in a row

    # ------------------------------------------------------------------ the Dialogue's

    def _understanding(self) -> Understanding:
        raise NotImplementedError

    def _ask(self, lookup: Lookup) -> Step:
        raise NotImplementedError

    def _ask_phase(self, phase: Phase) -> Step:
        raise NotImplementedError

    def _set_phase(self, phase: Phase) -> None:
        raise NotImplementedError

    def _next(self) -> Step:
        raise NotImplementedError

    def _failed(self, *, count: bool = True) -> Step:
        raise NotImplementedError

    def _resolve(self, kind: LookupKind) -> Lookup:
        raise NotImplementedError

    def _transfer(self, reason: TransferReason, first: Prompt | None = None) -> Step:
        raise NotImplementedError

    @property
    def ended(self) -> bool:
        raise NotImplementedError

    # ------------------------------------------------------------------ the postcode

    def _postcode_misheard(self) -> Step:
        """A postcode of no commune of the territory said at the postcode question: most often
        Whisper's (« 30000 » for « treize mille cinq », the live call set's
        paused-chave-number, cut off mid-address). Taken for the place, the street was spelled
        among the streets of a town the service has none of, twice, then a person took over.
        Never the place of a lookup: an answer not understood, the postcode asked on the
        keypad, where it cannot be misheard; not counted as outside (`_outside_postcode`)."""
        step = self._failed()
        if not self.ended:
            step.say = [Prompt("postcode_not_heard")]
        return step

    def _outside_postcode(self) -> Step:
        """A postcode of no commune of the territory typed at the postcode question: a key
        slipped, or the caller lives elsewhere. Never the place of a lookup: typed once more,
        then a person, who is told why (two in a row, a postcode of the territory typed in
        between forgives the first)."""
        self._outside_postcodes += 1
        if self._outside_postcodes >= OUTSIDE_POSTCODES:
            return self._transfer(TransferReason.OUT_OF_TERRITORY)
        phase = Phase.ASK_POSTCODE
        return Step([Prompt("outside_postcode")], EXPECT[phase], keys=KEYS[phase])

    # ------------------------------------------------------------------ step by step

    def _address_step_by_step(self) -> Step | None:
        """The address question failed twice with nothing of an address in the words (Whisper
        base on a line: « Mon adheu, Sullivan et Artinel Sonschal »): before a person takes
        over, once a call, the address is asked one field at a time, each where it cannot be
        misheard or where it can be checked: the number typed, the street said, the postcode
        typed, then the street spelled or typed. None: a person takes over."""
        address = self._understanding().address
        if self._step_by_step or (address is not None and not address.is_empty()):
            return None
        self._step_by_step = True
        self.progress.failures = 0
        step = self._ask_phase(Phase.ASK_NUMBER)
        step.say.insert(0, Prompt("step_by_step"))
        return step

    def _street_not_heard(self) -> Step:
        """The street asked alone and no street in the words: step by step, its postcode is
        typed and its name spelled or typed next (the same words again would fail the same
        way); otherwise it is asked again."""
        return self._address_fallback(None) if self._step_by_step else self._failed()

    def _place_typed_alone(self, address: SpokenAddress) -> bool:
        """Step by step, a postcode typed with no street heard: the street is spelled or typed
        next, not guessed by the gazetteer from the number and the postcode alone."""
        return self._step_by_step and not address.street

    # ------------------------------------------------------------------ lookups

    def vote_wanted(self, geo: GeocodeResult) -> bool:
        """Whether the audio should vote before `geo` is used (slots.vote_wanted)."""
        return vote_wanted(geo, self._book_threshold, self._confirm_threshold)

    def _accepted(self, geo: GeocodeResult) -> AddressMatch | None:
        return accepted_match(geo, self._book_threshold, self._confirm_threshold)

    def on_address(self, geo: GeocodeResult) -> Step:
        self._resolve(LookupKind.ADDRESS)
        match = self._accepted(geo)
        if match is not None and match.street in self._refused_streets and self._street_open():
            # The street the caller said is wrong, found again (the same words in the place
            # typed): not read back a second time, the spelling is next.
            return self._address_fallback(None)
        if match is not None:
            self._found(match)
            return self._next()
        said = self._understanding().address
        street = street_to_number(
            geo,
            said,
            fixed=not self._street_open(),
            place_typed=bool(
                said and self._typed_postcode and said.postcode == self._typed_postcode
            ),
        )
        if street is not None and not self._number_asked:
            # Typed, the number cannot be misheard. The street the gazetteer found is named,
            # and read back with the number before anything is booked.
            return self._ask_number_in(street)
        if (
            street is not None
            and self._typed_number
            and said is not None
            and said.housenumber in ("", self._typed_number)  # no number said since
            and geo.status != GeocodeStatus.NUMBER_NOT_FOUND  # looked for in it already
            and street.street not in self._tried
        ):
            # The number was typed already: that street is looked up with it, once, and
            # read back; the caller's own words are kept should it lead nowhere.
            self._tried.add(street.street)
            self._before_number = self._before_number or said
            u = self._understanding()
            u.address = in_street(said, street, self._typed_number)
            return self._lookup_address(u.address)
        return self._address_fallback(geo)

    def _address_fallback(self, geo: GeocodeResult | None) -> Step:
        """No address to read back: the postcode typed, then the street spelled, then the
        address asked again; with the caller's own words, not a street the gazetteer named
        that led nowhere."""
        before, self._before_number = self._before_number, None
        if before is not None:
            u = self._understanding()
            typed = u.address.housenumber if u.address is not None else ""
            u.address = replace(before, housenumber=typed or before.housenumber)
            geo = None  # the street named led nowhere: not kept for the postcode either
        if not self._postcode_asked:
            # Typed digits cannot be misheard: the postcode narrows the street down.
            self._postcode_asked = True
            self._heard_street = clear_street(geo) if geo is not None else None
            return self._ask_phase(Phase.ASK_POSTCODE)
        address = self._understanding().address
        if (
            not self._spelling_asked
            and address is not None
            and (address.postcode or address.citycode or address.city)
        ):
            # The place is known, the street is what goes wrong: spelled, it is looked up
            # among the streets of that place only.
            return self._ask_spelling()
        self._set_phase(Phase.ASK_ADDRESS)
        return self._failed()

    def on_spelled(self, street: str) -> Step:
        """The gazetteer's street the caller spelled ("" when no street of the place, or more
        than one, matches the letters: asked again, then a person takes over)."""
        self._resolve(LookupKind.SPELLED)
        if not street:
            return self._failed()
        self.progress.spelled = True
        return self._with_street(SpokenAddress(street=street), spelled=True)

    def _found(self, match: AddressMatch) -> None:
        """A new address from the gazetteer: what the caller confirmed of the previous one
        still holds where it did not change; a field they said was wrong is new now."""
        p = self.progress
        p.confirmed = still_confirmed(p.confirmed, p.match, match)
        self._heard_street = self._before_number = None
        p.refused = []
        p.match = match
        p.failures = 0

    def _lookup_address(
        self, address: SpokenAddress, *, text: str = "", spoken: bool = False, typed_place: str = ""
    ) -> Step:
        typed = self._typed_number if address.housenumber == self._typed_number else ""
        return self._ask(
            Lookup(
                LookupKind.ADDRESS,
                text=text,
                address=address,
                spoken=spoken,
                typed_place=typed_place,
                typed_number=typed,
            )
        )

    def _ask_spelling(self) -> Step:
        self._spelling_asked = True
        return self._ask_phase(Phase.SPELL_STREET)

    def _with_number(self, number: str) -> Step:
        u = self._understanding()
        u.address = replace(u.address or SpokenAddress(), housenumber=number)
        if not u.address.street:
            return self._ask_phase(Phase.ASK_STREET)
        return self._lookup_address(u.address)

    def _with_street(self, heard: SpokenAddress, *, spelled: bool = False) -> Step:
        """The street said alone (or spelled: the gazetteer's name, no audio of it)."""
        u = self._understanding()
        address = u.address = with_street(u.address or SpokenAddress(), heard)
        if not spelled:
            self._words = address
        if not address.postcode and not address.city and not self._postcode_asked:
            # A street name alone is in many communes: the typed postcode settles which.
            self._postcode_asked = True
            return self._ask_phase(Phase.ASK_POSTCODE)
        return self._lookup_address(address, spoken=not spelled)

    def _ask_number_in(self, street: AddressMatch) -> Step:
        self._number_asked = True
        self._tried.add(street.street)  # the number typed next is looked up in it
        u = self._understanding()
        said = self._before_number = u.address or SpokenAddress()
        u.address = in_street(said, street, "")
        self._set_phase(Phase.ASK_NUMBER)
        return Step(
            [Prompt("number_not_found", {"street": street.street}, static=False)],
            EXPECT[Phase.ASK_NUMBER],
        )

    def _street_open(self) -> bool:
        """Whether the street may still change: not said right, not spelled."""
        return Field.STREET.value not in self.progress.confirmed and not self.progress.spelled

    def _correct(self, wrong: Field) -> Step:
        """Ask again for the one field the caller said is wrong, the others kept as read."""
        self._heard_street = None
        match = self.progress.match
        assert match is not None
        self._understanding().address = spoken_from(match)
        if wrong == Field.NUMBER:
            return self._ask_phase(Phase.ASK_NUMBER)
        if wrong == Field.STREET:
            self._refused_streets.add(match.street)
            if (
                self._words is not None
                and not self._territory.in_territory(self._words.postcode)
                and not self._typed_postcode
                and Field.CITY.value not in self.progress.confirmed
            ):
                # The caller gave no postcode of the territory (« 10 000 » for « treize mille
                # cinq »): the place was the gazetteer's guess with the street. Typed, it
                # cannot be misheard, and the caller's own words (and their audio) are looked
                # up again among its streets only, the number as it stands.
                self._postcode_asked = True
                self._understanding().address = replace(self._words, housenumber=match.housenumber)
                return self._ask_phase(Phase.ASK_POSTCODE)
            # Said again, the street would be misheard again: spelled, it is looked up among
            # the streets of the commune the caller has not said no to.
            return self._ask_spelling()
        self._postcode_asked = True
        return self._ask_phase(Phase.ASK_POSTCODE)
