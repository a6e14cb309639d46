"""The live-call dialogue: a pure state machine, no I/O.

The live-call activity (activities/live_call.py) feeds it what happened on the line (an
utterance's transcript, keys pressed, a silence, the caller hanging up) and the results of the
lookups it asked for (address, free day, FAQ answer); each call returns a `Step`: the prompts
to say (templates under corpus/templates/voice/), what kind of answer to wait for (which sets
the end-of-utterance pause and whether keys are collected as a postcode), a lookup to run, or
the end of the call.

- machine.py: the state machine (`Dialogue`), its order of questions and its fallbacks;
- address_steps.py: its address half (a mixin): what each address lookup leads to, and
  the state that choice keeps (numbers and postcodes typed, streets refused);
- steps.py: what it hands the activity (`Step`, `Prompt`, `Lookup`) and, per phase, the
  question, its retry and the expected answer;
- words.py: yes, no, "a person please", a street name said alone;
- prompts.py: the prompts whose words depend on the call (read-back, one field of it);
- slots.py: what each turn understood, merged into the call's understanding;
- readback.py: which field of the address is read back next, and which street found without
  its number is named, or kept for the typed postcode;
- details.py: what an agent reads of the call (the case details).
"""

from domain.dialogue.details import callback_details_markdown
from domain.dialogue.machine import DICTATED_NUMBER_NOTE, Dialogue, stop_by_service
from domain.dialogue.prompts import transfer_prompt
from domain.dialogue.steps import (
    MAX_FAILURES,
    PHONE_KEYS,
    POSTCODE_KEYS,
    TRANSFER_KEY,
    Expect,
    Lookup,
    LookupKind,
    Prompt,
    Step,
)
from domain.dialogue.words import wants_person, yes_or_no

__all__ = [
    "DICTATED_NUMBER_NOTE",
    "MAX_FAILURES",
    "PHONE_KEYS",
    "POSTCODE_KEYS",
    "TRANSFER_KEY",
    "Dialogue",
    "Expect",
    "Lookup",
    "LookupKind",
    "Prompt",
    "Step",
    "callback_details_markdown",
    "stop_by_service",
    "transfer_prompt",
    "wants_person",
    "yes_or_no",
]
