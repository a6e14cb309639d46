"""The live-call dialogue's state machine (see the package's docstring for what it is fed
and what it returns).

The order: greeting with the "service automatisé" disclosure → address (the number typed on
the keypad when the street is found without it; the postcode typed when the address is not
found; a house number typed instead of said, then the street) → items → read-back with the
first free day → "dites oui ou tapez 1". A "non" to the read-back reads the address back field
by field from the first one not yet said right (domain/dialogue/readback.py), each a yes/no or
1/2, and asks again only for the wrong one. At any time a question gets the FAQ's answer and the
dialogue goes back to where it was; "je veux parler à quelqu'un" or the key 0 ends with a
transfer, and so do two failures on the same question. What was understood is always in
`progress` (the activity's heartbeat details), so a call cut short still leaves it to a person.

A street the gazetteer does not find once the postcode is typed, or that the caller says is
wrong at its read-back, is spelled letter by letter (domain/spelling.py) and looked up among
the streets of that place only; a street refused in a place the caller never gave (no
postcode of the territory said) first has the postcode typed and the caller's own words
looked up again there. A transfer says why and what the agent already knows.

The request itself is understood by the same code as a voicemail (domain/understanding/),
and an address is accepted by the same rule (domain/decision.py): the read-back and the
caller's "oui" take the place of the confirmation SMS for an address that is likely but not
certain.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

from domain.catalogue import Catalogue
from domain.decision import BOOK_THRESHOLD, CONFIRM_THRESHOLD
from domain.dialogue.address_steps import AddressSteps
from domain.dialogue.prompts import (
    check_prompt,
    readback_prompt,
    refused_items_prompt,
    transfer_prompt,
)
from domain.dialogue.readback import (
    CHECK_PHASES,
    CHECKED_FIELDS,
    unchecked_after,
)
from domain.dialogue.slots import merge_understanding
from domain.dialogue.steps import (
    EXPECT,
    KEYS,
    MAX_FAILURES,
    QUESTION_PROMPT,
    RETRY_PROMPT,
    TRANSFER_KEY,
    Expect,
    Lookup,
    LookupKind,
    Prompt,
    Step,
)
from domain.dialogue.words import says_something, street_alone, wants_person, yes_or_no
from domain.faq_models import FaqResult
from domain.keypad import (
    Field,
    keyed_housenumber,
    keyed_postcode,
    keyed_yes_no,
    spoken_housenumber,
)
from domain.live_call_models import LiveCallProgress, Outcome, Phase, TransferReason
from domain.models import Intent, SpokenAddress, Understanding
from domain.phone import is_mobile_fr, sms_mobile, to_e164
from domain.spelling import keyed_letters, parse_spelling
from domain.understanding import NO_ITEMS_NOTE, Territory, find_item_slots, understand

DICTATED_NUMBER_NOTE = "numéro de rappel dicté dans le message"


def stop_by_service(progress: LiveCallProgress) -> None:
    """The telephony process is stopping and hangs up a call still running: the call ends as
    interrupted by the service, whatever the hang-up that follows looks like."""
    if progress.phase == Phase.ENDED and progress.outcome:
        return  # it ended on its own meanwhile
    progress.outcome = Outcome.INTERRUPTED.value


class Dialogue(AddressSteps):
    def __init__(
        self,
        catalogue: Catalogue,
        caller_number: str = "",
        *,
        service_name: str,
        agent_phone: str,
        territory: Territory,
        max_failures: int = MAX_FAILURES,
        book_threshold: float = BOOK_THRESHOLD,
        confirm_threshold: float = CONFIRM_THRESHOLD,
    ) -> None:
        self._catalogue = catalogue
        self._territory = territory
        self._caller = caller_number
        self._service_name = service_name
        self._agent_phone = agent_phone
        self._max_failures = max_failures
        self._book_threshold = book_threshold or BOOK_THRESHOLD
        self._confirm_threshold = confirm_threshold or CONFIRM_THRESHOLD
        self.progress = LiveCallProgress()
        self._pending: Lookup | None = None
        self._init_address()
        self._restarts = 0
        self._silences = 0
        # FAQ lookups that answered nothing new on the current question, and what was
        # answered there (on_faq).
        self._faq_misses = 0
        self._faq_answers: set[str] = set()
        # An answer to the items question taken for a question the FAQ has nothing for, heard
        # again as an answer (on_faq): what it names is then that answer's (on_items).
        self._items_heard_again_after_faq = False

    # ------------------------------------------------------------------ state

    @property
    def phase(self) -> Phase:
        return Phase(self.progress.phase)

    @property
    def ended(self) -> bool:
        return self.phase == Phase.ENDED

    @property
    def pending(self) -> Lookup | None:
        return self._pending

    def checkpoint(self) -> dict[str, Any]:
        """The call's state so far, to go back to when a turn proves to be half of one (the
        caller went on after the pause: activities/live/runner.py hears the two as one)."""
        return copy.deepcopy(self.__dict__, self._shared())

    def restore(self, state: dict[str, Any]) -> None:
        """Back to a checkpoint (which stays usable: the caller may go on more than once)."""
        state = copy.deepcopy(state, self._shared())
        self.__dict__.clear()
        self.__dict__.update(state)

    def _shared(self) -> dict[int, Any]:
        # The service's catalogue and territory: read-only, and large.
        return {id(self._catalogue): self._catalogue, id(self._territory): self._territory}

    # ------------------------------------------------------------------ events

    def start(self) -> Step:
        self._set_phase(Phase.ASK_ADDRESS)
        greeting = Prompt(
            "greeting", {"service_name": self._service_name, "agent_phone": self._agent_phone}
        )
        return Step([greeting, Prompt("ask_address")], Expect.ADDRESS)

    def on_utterance(self, text: str) -> Step:
        self._check_waiting()
        text = " ".join(text.split())
        if not text:
            return self.on_silence()
        self._silences = 0
        self.progress.turns += 1
        self.progress.heard.append(text)
        if wants_person(text):
            return self._transfer(TransferReason.CALLER_ASKED)
        phase = self.phase
        if phase == Phase.CONFIRM or phase in CHECKED_FIELDS:
            answer = yes_or_no(text)
            if answer is not None:
                return self._answered(answer)
        if phase == Phase.ASK_NUMBER:
            number = spoken_housenumber(text)
            if number is not None:  # « non, c'est le onze »: the number, the street kept
                self._typed_number = ""
                return self._with_number(number)
            if self._before_number is not None and yes_or_no(text) is False:
                # "Non" to the street named with the number question: the caller's own
                # words again, and the place or the spelling asked.
                return self._address_fallback(None)
        if phase == Phase.SPELL_STREET:
            letters = parse_spelling(text)
            if letters is not None:
                u = self._understanding()
                return self._ask(Lookup(LookupKind.SPELLED, text=letters, address=u.address))
        u = understand(text, self._caller, self._catalogue, self._territory)
        if u.intent == Intent.QUESTION:
            return self._ask(Lookup(LookupKind.FAQ, text=text))
        if phase == Phase.ASK_STREET:
            if u.address is not None and u.address.street:
                return self._with_street(u.address)
            street = street_alone(text)
            if street:
                # Asked for the street alone, the words are its name even when they do not
                # parse as one ("boulevard chave", lowercase): the gazetteer judges.
                return self._with_street(SpokenAddress(street=street))
            return self._street_not_heard()
        if phase in (Phase.ASK_ADDRESS, Phase.ASK_POSTCODE):
            said = u.address.postcode if u.address is not None else ""
            if phase == Phase.ASK_POSTCODE and said and not self._territory.in_territory(said):
                # The rest of the answer is kept (items), not the address it misplaces.
                merge_understanding(self._understanding(), u, address=False)
                return self._postcode_misheard()
            held = self._understanding().address
            if (
                phase == Phase.ASK_POSTCODE
                and u.address is not None
                and not u.address.street
                and held is not None
                and held.street
            ):
                # The postcode said, not typed: the place joins the address already held.
                u.address = replace(
                    held,
                    postcode=u.address.postcode,
                    citycode=u.address.citycode,
                    city=u.address.city,
                )
            elif phase == Phase.ASK_ADDRESS:
                self._tried = set()  # a new address: its streets are new
            merge_understanding(self._understanding(), u)
            if u.address is not None and not u.address.is_empty():
                if u.address.street:
                    self._words = u.address
                return self._lookup_address(u.address, text=text, spoken=True)
            return self._failed()
        if phase == Phase.ASK_ITEMS:
            merge_understanding(self._understanding(), u, address=False)
            if not (u.items or u.refused_items) and self._worth_hearing_again(text):
                # Short answers on the phone come out garbled ("un effigier hâteau"): heard
                # again, the audio may still name the item, as for a voicemail. Not a filler
                # (« euh », « je sais pas »): asked again at once.
                return self._ask(Lookup(LookupKind.ITEMS, text=text))
            return self._after_items(u)
        if phase == Phase.ASK_PHONE:
            if DICTATED_NUMBER_NOTE in u.notes and is_mobile_fr(u.callback_number):
                self._understanding().callback_number = u.callback_number
                return self._next()
            return self._failed()
        return self._failed()

    def on_dtmf(self, digits: str) -> Step:
        self._check_waiting()
        self._silences = 0
        self.progress.turns += 1
        self.progress.heard.append(f"[DTMF {digits}]")
        phase = self.phase
        if phase == Phase.ASK_POSTCODE:
            code = keyed_postcode(digits)
            if code is None:
                return self._failed()
            if not self._territory.in_territory(code):
                return self._outside_postcode()
            self._outside_postcodes = 0
            u = self._understanding()
            address = replace(u.address or SpokenAddress(), postcode=code, citycode="", city="")
            heard, self._heard_street = self._heard_street, None
            if heard is not None and heard.postcode == code and self._street_open():
                # Two independent pieces of evidence agree (the street the audio chose, the
                # place typed): the street is looked up by its name, then read back.
                address = replace(address, street=heard.street)
            u.address = address
            self._typed_postcode = code
            if self._place_typed_alone(address):
                return self._address_fallback(None)
            return self._lookup_address(address, typed_place=code)
        if phase == Phase.ASK_PHONE:
            number = to_e164(digits.rstrip("#"))
            if number is None or not is_mobile_fr(number):
                return self._failed()
            self._understanding().callback_number = number
            return self._next()
        if digits.rstrip("#") == TRANSFER_KEY:
            return self._transfer(TransferReason.CALLER_ASKED)
        if phase == Phase.SPELL_STREET:
            # The name typed one key per letter: no letter misheard, the keys' letters matched
            # against the place's streets (domain/spelling.py: match_keyed).
            keys = keyed_letters(digits)
            if keys is None:
                return self._failed()
            place = self._understanding().address
            return self._ask(Lookup(LookupKind.SPELLED, text=keys, address=place, keyed=True))
        if phase in (Phase.ASK_ADDRESS, Phase.ASK_NUMBER):
            # At the address question, keys are the house number; the street comes next.
            number = keyed_housenumber(digits)
            if number is None:
                return self._failed()
            # A number the caller typed is not asked for again.
            self._typed_number, self._number_asked = number, True
            return self._with_number(number)
        if phase == Phase.CONFIRM or phase in CHECKED_FIELDS:
            answer = keyed_yes_no(digits)
            if answer is not None:
                return self._answered(answer)
        return self._failed()

    def on_silence(self) -> Step:
        """No answer within the activity's wait (or only noise)."""
        self._check_waiting()
        self._silences += 1
        if self._silences >= self._max_failures:
            return self._transfer(TransferReason.NO_ANSWER)
        return self._failed(count=False)

    def on_hangup(self) -> None:
        """The caller hung up: the dialogue ends with what it understood."""
        if self.progress.outcome == Outcome.INTERRUPTED:
            # The service cut the call (stop_by_service), not the caller.
            self._pending = None
            self._set_phase(Phase.ENDED)
            return
        if self.ended:
            return
        self._pending = None
        u = self.progress.understanding
        asked_nothing = u is None or (
            (u.address is None or u.address.is_empty()) and not u.items and not u.refused_items
        )
        self.progress.outcome = (
            Outcome.ANSWERED if self.progress.faq_entries and asked_nothing else Outcome.HANGUP
        ).value
        self._set_phase(Phase.ENDED)

    def on_transfer_dropped(self) -> None:
        """The caller hung up during the transfer's announcement: the agents' phones will not
        ring for them, a person calls back (the workflow texts them so)."""
        if self.progress.outcome == Outcome.TRANSFER:
            self.progress.dropped = True

    def on_timeout(self) -> Step:
        """The call reached its maximum length: a person takes over."""
        self._pending = None
        return self._transfer(TransferReason.TOO_LONG)

    # ------------------------------------------------------------------ lookups

    def on_slot(self, day: str) -> Step:
        """The first free day for the sector ("" when there is none)."""
        self._resolve(LookupKind.SLOT)
        if not day:
            return self._transfer(TransferReason.NO_SLOT, first=Prompt("no_slot"))
        self.progress.proposed_date = day
        self.progress.failures = 0
        self._set_phase(Phase.CONFIRM)
        return Step([self._readback()], Expect.YES_NO)

    def on_items(self, heard: Understanding) -> Step:
        """The items the audio of the last answer names (none: asked again). A name only
        wins the vote by a clear margin, and the read-back says the items."""
        self._resolve(LookupKind.ITEMS)
        after_faq, self._items_heard_again_after_faq = self._items_heard_again_after_faq, False
        u = self._understanding()
        merge_understanding(u, heard, address=False)
        if u.items:
            u.notes = [n for n in u.notes if n != NO_ITEMS_NOTE]
        if after_faq and not (heard.items or heard.refused_items):
            # Neither a question the FAQ answers nor an answer: the FAQ's miss, as before.
            return self._faq_missed(answered=False)
        return self._after_items(heard)

    def on_faq(self, result: FaqResult) -> Step:
        words = self._resolve(LookupKind.FAQ).text
        answered = bool(result.confident and result.answer)
        if not answered and self.phase == Phase.ASK_ITEMS and self._worth_hearing_again(words):
            # An answer to « quels objets ? » garbled into a question (« je voudrais … je vous
            # prénez les morts » for « que vous preniez une armoire et quatre pneus »: « vous
            # prenez les … » asks, question mark or not) is heard again as an answer, as any
            # answer naming no item; nothing heard there is the FAQ's miss (on_items).
            self._items_heard_again_after_faq = True
            return self._ask(Lookup(LookupKind.ITEMS, text=words))
        # The entry, or the answer for the item catalogue, which answers every item under one
        # entry (a generated answer is worded anew each time: the entry is what repeats).
        key = result.answer if result.source == "catalogue" else result.entry_id
        repeated = answered and key in self._faq_answers
        if answered and not repeated:
            self._faq_answers.add(key)
            if result.entry_id not in self.progress.faq_entries:
                self.progress.faq_entries.append(result.entry_id)
        if not answered or repeated:
            return self._faq_missed(answered, result.answer)
        say = Prompt("faq_answer", {"answer": result.answer}, static=False)
        return Step([say, self._question()], EXPECT[self.phase], keys=KEYS.get(self.phase, 0))

    def _faq_missed(self, answered: bool, answer: str = "") -> Step:
        """A "question" the FAQ cannot answer, or the same answer again, leaves the question
        asked unanswered: two on one question hand the call to a person, where a caller whose
        answers are heard as questions used to get the same prompt until the call's time ran
        out. Counted apart from the question's own failures: a caller who also answered it
        badly once is not cut off by one question more."""
        self._faq_misses += 1
        if self._faq_misses >= self._max_failures:
            return self._transfer(TransferReason.TWO_FAILURES)
        if answered:
            say = Prompt("faq_answer", {"answer": answer}, static=False)
        else:
            say = Prompt("faq_unknown")
        return Step([say, self._question()], EXPECT[self.phase], keys=KEYS.get(self.phase, 0))

    def _worth_hearing_again(self, text: str) -> bool:
        """Whether an answer to the items question that names no item may still name one in
        its audio: a word other than fillers, or a noun phrase that sounds like an item."""
        return bool(text) and (
            says_something(text)
            or bool(find_item_slots(text, self._catalogue, self._territory, answer=True))
        )

    # ------------------------------------------------------------------ helpers

    def _next(self) -> Step:
        """The next question still open once the address is known: items, then a mobile
        number for the SMS (AudioSocket gives no caller id; a landline cannot get an SMS),
        then the free day and the read-back."""
        u = self._understanding()
        match = self.progress.match
        assert match is not None
        if not u.items:
            return self._ask_phase(Phase.ASK_ITEMS)
        if not self.sms_number:
            return self._ask_phase(Phase.ASK_PHONE)
        return self._ask(Lookup(LookupKind.SLOT, sector=match.sector))

    def _answered(self, yes: bool) -> Step:
        """A yes or no (said, or 1/2 on the keypad) to the read-back or to one of its fields."""
        phase = self.phase
        if phase == Phase.CONFIRM:
            return self._confirmed() if yes else self._readback_refused()
        checked = CHECKED_FIELDS[phase]
        if not yes:
            self.progress.refused.append(checked.value)
            return self._correct(checked)
        if checked.value not in self.progress.confirmed:
            self.progress.confirmed.append(checked.value)
        following = unchecked_after(self.progress, checked, self._typed_number)
        if following is not None:
            return self._check(following)
        # Every field of the address is right: the "non" was about the items.
        return self._items_again()

    def _items_again(self) -> Step:
        u = self._understanding()
        u.items, u.refused_items = [], []
        return self._ask_phase(Phase.ASK_ITEMS)

    def _readback_refused(self) -> Step:
        """Asking for everything again would make the same mistake again: after a "non", the
        address is read back field by field from the first field the caller has not said is
        right (a typed number last), and only the wrong field is asked again. A
        "non" again after a correction goes on with the fields not checked yet ("11" typed for
        "16", the street still wrong); once every field is right, the "non" is the items'.
        A person takes over at the second "non" with nothing left to check, or the third."""
        self._restarts += 1
        first = unchecked_after(self.progress, None, self._typed_number)
        if first is None:
            if self._restarts >= self._max_failures:
                return self._transfer(TransferReason.TWO_FAILURES)
            return self._items_again()
        if self._restarts > self._max_failures:
            return self._transfer(TransferReason.TWO_FAILURES)
        return self._check(first)

    def _check(self, checked: Field) -> Step:
        self._set_phase(CHECK_PHASES[checked])
        return Step([self._check_prompt()], Expect.YES_NO)

    def _check_prompt(self) -> Prompt:
        match = self.progress.match
        assert match is not None
        return check_prompt(CHECKED_FIELDS[self.phase], match)

    def _ask_phase(self, phase: Phase) -> Step:
        self._set_phase(phase)
        return Step([Prompt(QUESTION_PROMPT[phase])], EXPECT[phase], keys=KEYS.get(phase, 0))

    def _after_items(self, u: Understanding) -> Step:
        if u.items and self.progress.match is not None:
            return self._next()
        if u.refused_items:
            refused = refused_items_prompt(u)
            step = self._failed()
            if not self.ended:
                step.say = [refused, Prompt("ask_items")]
            else:
                step.say = [refused, *step.say]
            return step
        return self._failed()

    def _understanding(self) -> Understanding:
        if self.progress.understanding is None:
            self.progress.understanding = Understanding(intent=Intent.BOOKING.value)
        return self.progress.understanding

    def _readback(self) -> Prompt:
        match = self.progress.match
        assert match is not None
        return readback_prompt(self.progress, self._understanding(), match)

    def _question(self) -> Prompt:
        phase = self.phase
        if phase == Phase.CONFIRM:
            return self._readback()
        if phase in CHECKED_FIELDS:
            return self._check_prompt()
        return Prompt(QUESTION_PROMPT[phase])

    def _failed(self, *, count: bool = True) -> Step:
        if count:
            self.progress.failures += 1
            if self.progress.failures >= self._max_failures:
                fallback = self._address_step_by_step() if self.phase == Phase.ASK_ADDRESS else None
                return fallback or self._transfer(TransferReason.TWO_FAILURES)
        phase = self.phase
        if (phase == Phase.CONFIRM or phase in CHECKED_FIELDS) and not count:
            return Step([self._question()], Expect.YES_NO)
        return Step([Prompt(RETRY_PROMPT[phase])], EXPECT[phase], keys=KEYS.get(phase, 0))

    def _ask(self, lookup: Lookup) -> Step:
        self._pending = lookup
        return Step(lookup=lookup)

    def _confirmed(self) -> Step:
        self.progress.outcome = Outcome.CONFIRMED.value
        self._set_phase(Phase.ENDED)
        return Step([Prompt("confirmed")], hang_up=True)

    @property
    def sms_number(self) -> str:
        """The mobile number the confirmation SMS goes to ("" when none is known)."""
        return sms_mobile(self._understanding().callback_number, to_e164(self._caller) or "")

    def _transfer(self, reason: TransferReason, first: Prompt | None = None) -> Step:
        # An address the caller said "non" to, with fields they never said right, is not one
        # the agent "already has" (the details still show it, field by field, as found).
        doubted = bool(self._restarts) and (
            unchecked_after(self.progress, None, self._typed_number) is not None
        )
        self._pending = None
        self.progress.outcome = Outcome.TRANSFER.value
        self.progress.transfer_reason = reason.value
        self._set_phase(Phase.ENDED)
        say = [first] if first is not None else []
        prompt = transfer_prompt(reason, self.progress, address_known=not doubted)
        return Step([*say, prompt], hang_up=True)

    def _set_phase(self, phase: Phase) -> None:
        if self.progress.phase != phase.value:
            self.progress.phase = phase.value
            self.progress.failures = 0
            self._faq_misses = 0
            self._faq_answers = set()

    def _check_waiting(self) -> None:
        if self.ended:
            raise ValueError("the dialogue has ended")
        if self._pending is not None:
            raise ValueError(f"a {self._pending.kind} lookup is pending")

    def _resolve(self, kind: LookupKind) -> Lookup:
        """The lookup pending, of that kind, now answered."""
        pending = self._pending
        if pending is None or pending.kind != kind:
            raise ValueError(f"no {kind} lookup pending")
        self._pending = None
        return pending
