"""Issue 17, defect 7: caller text cannot format an agent's view or drive their terminal."""

from __future__ import annotations

import io
import itertools

from markdown_it import MarkdownIt
from rich.console import Console
from rich.markdown import Markdown

from domain.escaping import markdown_text, strip_controls

HOSTILE = [
    "## Annulé\n\n[Cliquez ici](https://evil.example) **urgent**",
    "<img src=x onerror=alert(1)> &lt;b&gt;",
    "`code` ~~barré~~ _souligné_ | a | b |",
    "> citation\n- liste\n1. numéro\n---",
    "![image](https://evil.example/x.png)",
    "\\*déjà échappé\\*",
]


def test_caller_markdown_renders_as_the_same_characters() -> None:
    md = MarkdownIt("commonmark").enable("table").enable("strikethrough")
    for text in HOSTILE:
        tokens = md.parseInline(markdown_text(text))
        children = tokens[0].children or []
        # One plain text run (soft breaks are gone): no emphasis, link, image, code, HTML.
        assert {t.type for t in children} <= {"text"}, (text, [t.type for t in children])
        assert "".join(t.content for t in children) == " ".join(text.split())
        # Nor a block of its own when a line starts with it.
        blocks = [t.type for t in md.parse(markdown_text(text))]
        assert blocks == ["paragraph_open", "inline", "paragraph_close"], (text, blocks)


def test_escape_sequences_and_controls_are_stripped() -> None:
    text = (
        "12 rue \x1b[31mParadis\x1b[0m\x1b]8;;https://evil.example\x07lien\x1b]8;;\x07"
        "\x07\x00\x9b2J\u202eenilno\u202c\u2066x\u2069\u200b\ufeff\r\nfin\tok"
    )
    clean = strip_controls(text)
    assert clean == "12 rue Paradislienenilnox\nfin\tok"
    assert all(c in "\n\t" or ((c.isprintable() and c.isascii()) or c.isalpha()) for c in clean)


def test_rich_prints_no_escape_sequence_from_caller_text() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=120)
    console.print(Markdown(f"> {markdown_text(HOSTILE[0] + chr(27) + '[2J')}"))
    printed = out.getvalue()
    assert "\x1b" not in printed and "[Cliquez ici](https://evil.example)" in printed


def test_case_details_show_caller_text_as_text() -> None:
    """The agent's view of a voicemail and of a missed call's SMS replies."""
    from domain.agent import case_details_markdown
    from domain.missed_call import callback_details_markdown

    hostile = "[Cliquez ici](https://evil.example)\n## Annulé \x1b[2J\u202e"
    views = [
        case_details_markdown(
            reason="address_not_found",
            detail=f"pas de rue proche de '{hostile}'",
            transcript=hostile,
            understanding=None,
            match=None,
            candidates=[],
        ),
        callback_details_markdown(
            caller_number="+33612345678",
            line="mobile",
            calls=1,
            why="rappel",
            replies=[hostile],
            booking_label="",
            attempts=0,
        ),
    ]
    md = MarkdownIt("commonmark")
    for view in views:
        tokens = md.parse(view)
        headings = [b.content for a, b in itertools.pairwise(tokens) if a.type == "heading_open"]
        assert headings and not [h for h in headings if "Annulé" in h], headings
        inline = [c for t in tokens if t.children for c in t.children]
        assert "link_open" not in {c.type for c in inline}
        assert "\x1b" not in view and "\u202e" not in view
