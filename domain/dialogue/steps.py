"""What the dialogue hands the live-call activity at each event: the prompts to say, the kind
of answer to wait for, a lookup to run; and, per phase, the question, its retry and the
answer it expects."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from domain.live_call_models import Phase
from domain.models import SpokenAddress

MAX_FAILURES = 2
TRANSFER_KEY = "0"
POSTCODE_KEYS = 5
PHONE_KEYS = 10


class Expect(StrEnum):
    """What the bot waits for after speaking. The activity sets its end-of-utterance pause
    from it (longer while the caller gives an address or a number)."""

    SPEECH = "speech"
    ADDRESS = "address"
    DIGITS = "digits"  # a number on the keypad (`Step.keys` keys, or # to end)
    YES_NO = "yes_no"


class LookupKind(StrEnum):
    ADDRESS = "address"  # geocode `address` (heard in `text`) → on_address
    SLOT = "slot"  # first free day for `sector` → on_slot
    FAQ = "faq"  # answer `text` → on_faq
    # The street of `address`'s postcode (or commune) spelled by the letters `text` (or typed:
    # Lookup.keyed) → on_spelled
    SPELLED = "spelled"
    # The items of the last utterance, whose words `text` name none, voted by its audio among
    # the catalogue's names → on_items
    ITEMS = "items"


@dataclass
class Prompt:
    """One thing to say: a template of corpus/templates/voice/ and its context. `static`
    prompts say the same words on every call (the TTS caches their audio)."""

    template: str
    context: dict[str, str] = field(default_factory=dict)
    static: bool = True


@dataclass
class Lookup:
    kind: str  # a LookupKind value
    text: str = ""
    address: SpokenAddress | None = None
    sector: str = ""
    # The postcode the caller just typed: the address's audio may be voted on again among
    # that place's streets (activities/live/vote_audio.py).
    typed_place: str = ""
    # The address as the caller said it (not a number typed into a street the dialogue
    # chose): its audio may be voted on.
    spoken: bool = False
    # The house number of `address` was typed: the audio votes on the street only, it never
    # outvotes keys.
    typed_number: str = ""
    # SPELLED: `text` is the name typed on the keypad (one key per letter), not letters.
    keyed: bool = False


@dataclass
class Step:
    say: list[Prompt] = field(default_factory=list)
    expect: str = ""  # an Expect value; "" when a lookup is pending or the call ends
    keys: int = 0  # Expect.DIGITS: how many keys make the answer
    lookup: Lookup | None = None
    hang_up: bool = False


QUESTION_PROMPT = {
    Phase.ASK_ADDRESS: "ask_address",
    Phase.ASK_POSTCODE: "ask_postcode",
    Phase.ASK_ITEMS: "ask_items",
    Phase.ASK_PHONE: "ask_phone",
    Phase.ASK_NUMBER: "ask_number",
    Phase.ASK_STREET: "ask_street",
    Phase.SPELL_STREET: "ask_spelling",
}
RETRY_PROMPT = {
    Phase.ASK_ADDRESS: "retry_address",
    Phase.ASK_POSTCODE: "retry_postcode",
    Phase.ASK_ITEMS: "retry_items",
    Phase.ASK_PHONE: "retry_phone",
    Phase.CONFIRM: "retry_confirm",
    Phase.ASK_NUMBER: "retry_number",
    Phase.ASK_STREET: "retry_street",
    Phase.SPELL_STREET: "retry_spelling",
    Phase.CHECK_NUMBER: "retry_confirm",
    Phase.CHECK_STREET: "retry_confirm",
    Phase.CHECK_CITY: "retry_confirm",
}
EXPECT = {
    Phase.ASK_ADDRESS: Expect.ADDRESS,
    Phase.ASK_POSTCODE: Expect.DIGITS,
    Phase.ASK_ITEMS: Expect.SPEECH,
    Phase.ASK_PHONE: Expect.DIGITS,
    Phase.CONFIRM: Expect.YES_NO,
    Phase.ASK_NUMBER: Expect.DIGITS,
    Phase.ASK_STREET: Expect.ADDRESS,
    # The address's long pause: callers pause between letters.
    Phase.SPELL_STREET: Expect.ADDRESS,
    Phase.CHECK_NUMBER: Expect.YES_NO,
    Phase.CHECK_STREET: Expect.YES_NO,
    Phase.CHECK_CITY: Expect.YES_NO,
}
# Phase.ASK_NUMBER: 0, the house number ends with `#` (or a pause).
KEYS = {Phase.ASK_POSTCODE: POSTCODE_KEYS, Phase.ASK_PHONE: PHONE_KEYS}
