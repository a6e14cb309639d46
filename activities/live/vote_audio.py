"""Which audio of a call the address vote may use, and when: the caller's last answer, kept
between the turns of one call (the runner on the line, the offline replay of the scripted
calls: one rule for both)."""

from __future__ import annotations

from domain.dialogue import Expect, Lookup

# The answers whose audio is an address (or a number said at the number question): a "non"
# to the read-back, the items or the mobile number are no audio to vote on among addresses.
ADDRESS_EXPECTS = frozenset({Expect.ADDRESS, Expect.DIGITS})


class VoteAudio:
    """The last answer's audio, given to the address vote once per place: a vote among the
    candidates of the whole territory, then once more when the caller types a postcode that
    narrows the candidates (the same words, other streets to choose from). Never twice for
    the same place: the audio would only repeat itself, for seconds of CPU."""

    def __init__(self) -> None:
        self.pcm = b""
        self.expect = ""
        self._voted: set[str] = set()  # the places (postcode, commune, "") voted with

    def heard(self, pcm: bytes, expect: str) -> None:
        """A new answer: its audio replaces the last one's, never voted on yet."""
        self.pcm, self.expect = pcm, expect
        self._voted = set()

    def for_address(self, lookup: Lookup) -> bytes:
        """The audio to vote with on this lookup's candidates (b"": no vote)."""
        if self.expect not in ADDRESS_EXPECTS:
            self.pcm = b""
        place = _place(lookup)
        if place in self._voted or (not place and self._voted):
            return b""
        return self.pcm

    def voted(self, lookup: Lookup) -> None:
        self._voted.add(_place(lookup))

    def take(self) -> bytes:
        """The audio for the items vote (the answer to the items question), given once."""
        pcm, self.pcm = self.pcm, b""
        return pcm

    def drop(self) -> None:
        """Letters spelled: no audio to vote on among addresses."""
        self.pcm = b""


def _place(lookup: Lookup) -> str:
    """The place the lookup is narrowed to ("" for the whole territory)."""
    a = lookup.address
    return (a.postcode or a.citycode or a.city) if a is not None else ""
