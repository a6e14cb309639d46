"""Rule-based understanding of a French voicemail (or SMS) about bulky-waste pickup.

`understand()` turns a transcript into an `Understanding`: intent, address as heard, items and
their counts, caller name and callback number, with a confidence that says how complete the
extraction is and `notes` that tell an agent what was guessed. No LLM, no I/O: the catalogue
and the territory are passed in.

Whisper transcripts mix numbers in words and digits, drop or add punctuation and misspell
names; every rule here accepts both forms and prefers to leave a field empty over inventing it.

One concern per module: lexicon (the words of spoken French the rules read), territory (the
communes, street types and arrondissements, as a value), streets, region (where the address
is said), locality, address, caller (name), items (counts), item_slots (unknown item words the
audio decides), intent (and confidence), message (`understand`).
"""

from domain.understanding.item_slots import apply_item_scores, find_item_slots
from domain.understanding.items import NO_ITEMS_NOTE
from domain.understanding.message import understand
from domain.understanding.region import AddressRegion, locate_address
from domain.understanding.territory import Arrondissement, Commune, StreetType, Territory

__all__ = [
    "NO_ITEMS_NOTE",
    "AddressRegion",
    "Arrondissement",
    "Commune",
    "StreetType",
    "Territory",
    "apply_item_scores",
    "find_item_slots",
    "locate_address",
    "understand",
]
