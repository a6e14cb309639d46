"""Which audio of a call the address vote may use, and when (the runner on the line, the
offline replay of the scripted calls: one rule for both)."""

from __future__ import annotations

from domain.dialogue import Lookup
from domain.live_call_models import Phase

# The questions whose answer is an address, or its street: a number said alone, a postcode
# or a mobile number dictated, a "non" to the read-back or the items are no audio to vote
# on among streets (their words hold no street for the hypotheses to match).
ADDRESS_PHASES = frozenset({Phase.GREETING, Phase.ASK_ADDRESS, Phase.ASK_STREET})


class VoteAudio:
    """The audio of the caller's last address (or street) answer, kept through the answers
    after it (the items, a "non", keys), and the last answer's, for the items vote. The
    address audio is voted on once for an address the caller said, then once more for each
    postcode typed after it (the same words, the streets of that place to choose from);
    never for a lookup the dialogue made up itself (a number typed into a street it named):
    the audio would only repeat itself, or outvote the keys."""

    def __init__(self) -> None:
        self.pcm = b""  # the last address answer
        self.last = b""  # the last answer, whatever it was
        self._voted: set[str] = set()  # "" for the first vote, then the postcodes typed

    def heard(self, pcm: bytes, phase: str) -> None:
        """A new answer, given at `phase`."""
        self.last = pcm
        if phase in ADDRESS_PHASES:
            self.pcm = pcm
            self._voted = set()

    def for_address(self, lookup: Lookup) -> bytes:
        """The audio to vote with on this lookup's candidates (b"": no vote)."""
        if lookup.typed_place:
            return b"" if lookup.typed_place in self._voted else self.pcm
        return self.pcm if lookup.spoken and not self._voted else b""

    def voted(self, lookup: Lookup) -> None:
        self._voted.add(lookup.typed_place)

    def take(self) -> bytes:
        """The audio for the items vote (the answer to the items question), given once."""
        pcm, self.last = self.last, b""
        return pcm

    def drop(self) -> None:
        """Letters spelled: the street is the gazetteer's, no audio to vote on among them."""
        self.pcm = b""
