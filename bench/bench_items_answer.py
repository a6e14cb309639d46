"""Benchmark: the answer to the live call's items question, cut and heard as a call does, on
answers no rule was written for.

    make bench-items-answer     # synthesizes the answers (TTS venv), then this; ~30 min

Answers: `scripts/turn_answers.py --addresses 0 --items 10`: each of the corpus's 21 voices
says ten requests of the items' held-out split (scripts/corpus/item_talk.py; the dialogue's
rules were written on the call set's clips) under the call set's line conditions, one set per
seed (--answers, one or more folders). Each answer is put on a line (0.5 s of silence before
it, 3 s after) and cut by the live path's own turn listener (activities/live/turns.py, the
fixed rule: its pre-roll and the trailing silence it keeps); its first turn is given to the
dialogue waiting at the items question (domain/dialogue) with the call's steps, as
activities/live/runner.py runs them (activities/live/work.py: the turn's transcription; an
answer that names no item heard again with the items' beam and voted on by the audio; a
question to the FAQ). Per answer, what the dialogue holds after that one turn: the items
exactly as said (names and counts); some of them (a name right, a count or another name
wrong or missing); only items not said; nothing (the question asked again); a person (the
call transferred); no turn at all (the listener heard no speech). Beside it, what the words
of the turn's transcription alone name (the second hearing's share), and the answers the
listener cut in two (a pause inside longer than the end pause: on a call, the rest would be
the answer to the next question). Tables per line condition and per number of items said;
JSON under var/. Not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
for path in (REPO, REPO / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from items_heldout import canonical  # noqa: E402
from replay_calls import OfflineCall  # noqa: E402

from activities.live.session import CallView  # noqa: E402
from activities.live.turns import TurnListener, TurnTaking, Utterance  # noqa: E402
from domain.dialogue import Dialogue, Expect, LookupKind  # noqa: E402
from domain.live_call_models import LiveCallProgress, Phase  # noqa: E402
from domain.understanding import understand  # noqa: E402
from tests.fakes.audiosocket_client import load_slin8k  # noqa: E402
from tests.fakes.fed_line import FedLine  # noqa: E402

RATE = 8000
BEFORE_S, AFTER_S = 0.5, 3.0
# Where the dialogue waits for the items: an address the gazetteer finds, said whole.
ADDRESS = "J'habite au 12 boulevard Chave, 13005 Marseille"
OUTCOMES = ("exact", "partly", "not said only", "asked again", "a person", "no turn")


def as_a_turn(pcm: bytes, turns: TurnTaking) -> tuple[bytes, bool]:
    """`pcm` on a line with silence around it, as the live turn listener cuts it: its first
    turn (b"" when none) and whether another turn followed (the answer cut in two). No
    speculation: the cut is the same with it, the transcript only comes earlier."""
    line = b"\0" * (int(BEFORE_S * RATE) * 2) + pcm + b"\0" * (int(AFTER_S * RATE) * 2)
    listener = TurnListener(
        FedLine(line),  # type: ignore[arg-type]  # the MediaSession protocol, no socket
        replace(turns, speculate_ms=0),
        lambda _pcm, _expect: "",
        CallView(LiveCallProgress()),
    )

    async def listen() -> tuple[bytes, bool]:
        first = await listener.listen(Expect.SPEECH)
        if not isinstance(first, Utterance):
            return b"", False
        more = await listener.listen(Expect.SPEECH)
        return first.pcm, isinstance(more, Utterance)

    return asyncio.run(listen())


def at_the_items_question(offline: OfflineCall) -> Dialogue:
    dialogue = offline.dialogue()
    dialogue.start()
    step = dialogue.on_utterance(ADDRESS)
    assert step.lookup is not None
    _candidates, geo = offline.steps.lookup_address(step.lookup)
    dialogue.on_address(geo)
    if dialogue.phase != Phase.ASK_ITEMS:
        raise SystemExit(f"the gazetteer does not find « {ADDRESS} »: {geo.status}")
    return dialogue


def outcome(got: dict[str, int], want: dict[str, int], asked_again: bool) -> str:
    if asked_again or not got:
        return "asked again"
    if got == want:
        return "exact"
    return "partly" if set(got) & set(want) else "not said only"


def hear(offline: OfflineCall, pcm: bytes, catalogue: Any, territory: Any) -> dict[str, Any]:
    """The dialogue's items after one answer, and the words' own."""
    steps = offline.steps
    dialogue = at_the_items_question(offline)
    text = steps.transcribe(pcm, Expect.SPEECH)
    words = understand(text, "", catalogue, territory)
    step = dialogue.on_utterance(text)
    while step.lookup is not None:
        lookup = step.lookup
        if lookup.kind == LookupKind.ITEMS:
            step = dialogue.on_items(steps.hear_items(lookup, pcm))
        elif lookup.kind == LookupKind.FAQ:
            step = dialogue.on_faq(steps.answer(lookup.text))
        else:
            raise SystemExit(f"unexpected lookup at the items question: {lookup.kind}")
    held = dialogue.progress.understanding
    items = held.items if held is not None else []
    return {
        "text": text,
        "words": canonical(((i.item, i.count) for i in words.items), catalogue),
        "items": canonical(((i.item, i.count) for i in items), catalogue),
        "asked_again": dialogue.phase == Phase.ASK_ITEMS,
        "transferred": dialogue.ended,
    }


def table(title: str, rows: list[dict[str, Any]], key: str) -> list[str]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(str(row[key]), []).append(row)
    lines = [
        f"| {title} | answers | " + " | ".join(OUTCOMES) + " | words alone exact | cut in two |",
        "|---" * (len(OUTCOMES) + 4) + "|",
    ]
    for name in [*sorted(groups), "all"]:
        group = rows if name == "all" else groups[name]
        counts = Counter(r["outcome"] for r in group)
        cells = " | ".join(f"{counts[o]} ({100 * counts[o] / len(group):.0f} %)" for o in OUTCOMES)
        words = sum(r["words"] == r["want"] for r in group)
        split = sum(r["split"] for r in group)
        lines.append(f"| {name} | {len(group)} | {cells} | {words} | {split} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=Path, nargs="+", required=True)
    parser.add_argument("--out", type=Path, default=Path("var/bench-items-answer.json"))
    args = parser.parse_args()
    started = time.monotonic()
    report: dict[str, Any] = {"what": __doc__.splitlines()[0], "sets": {}}
    with tempfile.TemporaryDirectory(prefix="encombot-items-answer-") as tmp:
        offline = OfflineCall(Path(tmp))
        catalogue = offline.services.catalogue
        territory = offline.services.geocode.territory
        turns = offline.steps.turns
        for folder in args.answers:
            meta = json.loads((folder / "meta.json").read_text("utf-8"))
            rows = []
            for m in (m for m in meta if m["kind"] == "items"):
                pcm, split = as_a_turn(load_slin8k(folder / m["file"]), turns)
                want = canonical(m["expected"]["items"].items(), catalogue)
                row = {
                    "file": m["file"],
                    "speaker": m["speaker"],
                    "condition": m["condition"],
                    "said": m["text"],
                    "items said": len(want),
                    "want": want,
                    "split": split,
                }
                if not pcm:
                    rows.append({**row, "words": {}, "items": {}, "outcome": "no turn"})
                    continue
                heard = hear(offline, pcm, catalogue, territory)
                if heard["transferred"]:
                    verdict = "a person"
                else:
                    verdict = outcome(heard["items"], want, heard["asked_again"])
                rows.append({**row, **heard, "outcome": verdict})
            report["sets"][folder.name] = rows
            print(f"\n{folder.name}: {len(rows)} answers\n")
            print("\n".join(table("line", rows, "condition")))
            print()
            print("\n".join(table("items said", rows, "items said")))
    report["wall_s"] = round(time.monotonic() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, ensure_ascii=False), "utf-8")
    print(f"\n{report['wall_s']} s; written to {args.out}")


if __name__ == "__main__":
    main()
