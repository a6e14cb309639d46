"""Which audio of a call the address vote may use, and when: the caller's last answer, kept
between the turns of one call (the runner on the line, the offline replay of the scripted
calls: one rule for both)."""

from __future__ import annotations

from domain.dialogue import Lookup
from domain.live_call_models import Phase

# The questions whose answer is an address, or its street: a number said alone, a postcode
# or a mobile number dictated, a "non" to the read-back or the items are no audio to vote
# on among streets (their words hold no street for the hypotheses to match).
ADDRESS_PHASES = frozenset({Phase.GREETING, Phase.ASK_ADDRESS, Phase.ASK_STREET})


class VoteAudio:
    """The last answer's audio, given to the address vote once, then once more for each
    postcode the caller types after it (the same words, the streets of that place to choose
    from). Never again for a lookup the dialogue made up itself (a street and a number
    typed): the audio would only repeat itself, or outvote the keys."""

    def __init__(self) -> None:
        self.pcm = b""
        self.phase = ""
        self._voted: set[str] = set()  # "" for the first vote, then the postcodes typed

    def heard(self, pcm: bytes, phase: str) -> None:
        """A new answer, given at `phase`: its audio replaces the last one's."""
        self.pcm, self.phase = pcm, phase
        self._voted = set()

    def for_address(self, lookup: Lookup) -> bytes:
        """The audio to vote with on this lookup's candidates (b"": no vote)."""
        if self.phase not in ADDRESS_PHASES:
            self.pcm = b""
        if not self._voted or (lookup.typed_place and lookup.typed_place not in self._voted):
            return self.pcm
        return b""

    def voted(self, lookup: Lookup) -> None:
        self._voted.add(lookup.typed_place)

    def take(self) -> bytes:
        """The audio for the items vote (the answer to the items question), given once."""
        pcm, self.pcm = self.pcm, b""
        return pcm

    def drop(self) -> None:
        """Letters spelled: no audio to vote on among addresses."""
        self.pcm = b""
