"""A question asked beside another request: "je voudrais faire enlever un canapé au 12 rue
Paradis, et aussi, vous prenez les pneus ?". The spans found here are only candidates:
`understand()` keeps them when what is left of the message, without them, is still a pickup
request (otherwise the question is the message, or the request itself is phrased as one)."""

from __future__ import annotations

import re

from domain.numbers import fold
from domain.understanding.intent import BOOKING_RE
from domain.understanding.lexicon import FILLERS

# Sentences as Whisper punctuates them; the terminator stays with its sentence.
_SENTENCE = re.compile(r"[^.?!]+[.?!]*")
# What announces the other request ("Et aussi, …", "Au fait, …", "Et j'ai une question. …").
_LEAD = re.compile(
    r"\b(?:et aussi|au fait|autre chose|par ailleurs|(?:et )?(?:j'?\s?ai |une )?(?:petite |"
    r"autre |derniere )?question)\b\s*[,:.]?\s*",
)
# How a question opens (folded): asked directly, or "je voudrais savoir …".
_OPENER = re.compile(
    r"^(?:et |mais |alors |sinon |aussi |euh |donc )*(?:"
    r"est[- ]ce|combien|comment|pourquoi|quand|quel(?:le)?s?\b|a quelle|qu'?est[- ]ce|"
    r"que (?:faire|dois|faut)|ou (?:est|se|sont|dois|faut|je|on|jeter|deposer|mettre|"
    r"les|le|la|ca)\b|"
    r"(?:je|j') ?(?:voudrais|voulais|souhaiterais|aimerais|veux) (?:savoir|connaitre|"
    r"me renseigner)|savoir si|"
    r"vous (?:prenez|ramassez|acceptez|collectez|enlevez|recuperez|passez|emportez|faites)|"
    r"(?:prenez|ramassez|acceptez|collectez|enlevez|recuperez)[- ]vous|"
    r"(?:je|on) (?:peux|peut|dois|doit)|il faut|faut[- ]il|il y a|y a[- ]t[- ]il|"
    r"c'?est (?:payant|gratuit|normal|possible de)|ca (?:coute|se passe)|"
    r"(?:vous etes|etes[- ]vous) ouverts?"
    r")"
)
# Openers that also start a statement ("Il y a aussi un lit.", "Il y aussi…" as Whisper drops
# the "a"): a question only with its "?". (_OPENER's "il y a" has no word end either.)
_STATEMENT_OPENER = re.compile(r"^(?:et |mais |alors |sinon |aussi |euh |donc )*il y a")
# The pickup asked as a question: that is the request, not a second one.
_PICKUP_ASKED = re.compile(
    r"\b(?:pouvez|pourriez|peux|pourrais|peut|pourrait|pouvriez)[- ]?(?:vous|on|il|je)?\s+"
    r"(?:\w+\s+)?(?:venir|passer|prendre|enlever|ramasser|recuperer|debarrasser|chercher)\b|"
    r"\b(?:prendre|avoir|fixer) (?:un )?rendez[- ]vous\b|\bquand (?:est-ce que )?vous passe"
)
# Not a question for the FAQ: the appointment itself (the cancellation and change rules see
# it), a call back asked for, a check that the line works.
_NOT_FAQ = re.compile(
    r"\bannul\w*|\bdecommand\w*|\breporter\b|\bdecaler\b|\brappel\w*|\bjoindre\b|"
    r"\bentend\w*|\ballo\b|\bc'?est bon\b|\bd'accord\b"
)


def _content_words(folded: str) -> int:
    return sum(1 for w in re.findall(r"[^\W\d_]+", folded) if w not in FILLERS)


def _question_start(text: str, start: int, end: int) -> int:
    """Where the question of a sentence begins: after its lead, else at a comma clause that
    opens like a question ("…, vous prenez les pneus ?"), else the sentence's start."""
    sentence = fold(text[start:end])
    leads = list(_LEAD.finditer(sentence))
    if leads:  # the last one: "et j'ai une question, au fait, …"
        return start + leads[-1].end()
    if _OPENER.match(sentence.strip()):
        return start
    for comma in re.finditer(r",\s*", sentence):
        if _OPENER.match(sentence[comma.end() :]):
            return start + comma.end()
    return start


def _is_side_question(text: str, start: int, end: int, led: bool) -> bool:
    folded = fold(text[start:end]).strip()
    if not folded or _content_words(folded) < 2:
        return False
    opened = _OPENER.match(folded) is not None and not (
        _STATEMENT_OPENER.match(folded) and not folded.endswith("?")
    )
    if not (folded.endswith("?") or opened):
        return False
    if _PICKUP_ASKED.search(folded) or _NOT_FAQ.search(folded):
        return False
    # "C'est pour faire ramasser un frigo, c'est possible ?" is the request itself; "Ça coûte
    # combien pour faire enlever un canapé ?" opens as a question, and a lead says so too.
    return opened or led or BOOKING_RE.search(folded) is None


def side_question_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of `text` that read as questions (each a sentence or its tail, with
    neighbours merged). Candidates only: see the module's docstring."""
    spans: list[tuple[int, int]] = []
    announced = False  # the previous sentence was only a lead ("Et j'ai une question.")
    for m in _SENTENCE.finditer(text):
        start, end = m.start(), m.end()
        while start < end and text[start].isspace():
            start += 1
        sentence = fold(text[start:end])
        lead = _LEAD.search(sentence)
        if lead is not None and lead.start() == 0 and _content_words(sentence[lead.end() :]) == 0:
            announced = True
            continue
        q_start = _question_start(text, start, end)
        led = announced or q_start != start or (lead is not None and lead.start() == 0)
        announced = False
        if not _is_side_question(text, q_start, end, led):
            continue
        q_end = end
        while q_end > q_start and text[q_end - 1].isspace():
            q_end -= 1
        if spans and not text[spans[-1][1] : q_start].strip():
            spans[-1] = (spans[-1][0], q_end)  # "vous prenez les pneus ? une bouteille de gaz ?"
        else:
            spans.append((q_start, q_end))
    return spans
