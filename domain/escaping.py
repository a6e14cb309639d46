"""Caller text shown to agents: in the Markdown of the Temporal UI's current details (and of
`encombot agent show`, which renders the same Markdown in a terminal).

A caller writes the SMS, says the words Whisper transcribes, gives a name: none of it may
format the agent's view (a fake heading, a link to a look-alike site, an HTML tag), nor
drive the agent's terminal (ANSI/OSC escape sequences), nor reorder what the agent reads
(bidirectional overrides). `markdown_text` is for caller text inside Markdown;
`strip_controls` for any text printed (already-built Markdown, JSON, messages).
"""

from __future__ import annotations

import re

# ESC-introduced sequences first (CSI `ESC [ … final`, OSC `ESC ] … BEL|ESC \`, and the
# two-character ones), so that their printable tail does not survive the control strip.
_ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC (hyperlinks, titles)
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS, SOS, PM, APC
    r"|\x1b[@-Z\\-_]"  # other two-character sequences
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
)
# C0 (but tab and newline), DEL, C1, and the invisible format characters that reorder or
# hide text: bidi embeddings/overrides/isolates, marks, zero-width, BOM.
_CONTROLS = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]"
)
# CommonMark: any ASCII punctuation may be backslash-escaped; these are the ones that can
# start or delimit a construct (emphasis, link, image, code, HTML, table, heading, quote,
# list, entity).
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~&])")


def strip_controls(text: str) -> str:
    """`text` without terminal escape sequences, control characters (tab and newline kept)
    or bidirectional/invisible format characters."""
    return _CONTROLS.sub("", _ANSI.sub("", text.replace("\r\n", "\n")))


def markdown_text(text: str) -> str:
    """Caller text as inline Markdown that renders as exactly these characters: controls
    stripped, line breaks folded to spaces (a caller's line cannot start a heading, quote or
    list of its own), every Markdown punctuation escaped."""
    flat = " ".join(strip_controls(text).split())
    return _MARKDOWN.sub(r"\\\1", flat)
