"""The auto-booking threshold chosen on training folds, reported on held-out folds (issue 16).

Text level, so that 400 messages take a minute on two cores: each message of the development
corpus (`make corpus` or `python -m scripts.corpus --plan-only`: its `voicemails.json` and
`ban-dev.csv.gz`) goes through a seeded ASR-error channel (`garble`: what Whisper does to
French voicemails on the telephone: lower case, lost punctuation, misspelled proper names,
dropped or doubled digits, confused ordinals, dropped words, and the looping it falls into on
noise), then through the project's pipeline without the recording (understand → propose →
resolve → decide: the text-only path, as when the audio vote cannot run).

Then k folds (by message, and by speaker: no voice in both the training and the held-out
part): on the training folds, the smallest booking threshold whose wrong automatic bookings
stay ≤ `--max-wrong` of the messages; on the held-out fold, with that threshold: address
right (booking messages, `is_booking`: the address booked or first offered is the expected
one), wrong automatic bookings, escalations and SMS confirmations (of all messages).

    python bench/calibrate_folds.py --corpus var/corpus/dev --out var/calibration-folds.json
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import re
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from domain.decision import (
    BOOK_THRESHOLD,
    DecisionKind,
    ask_instead,
    decide_address,
    decide_request,
)
from domain.models import GeocodeResult
from domain.phone import sms_mobile
from domain.pipeline import Message, resolve_address, understand_message
from workers.dev.eval_metrics import PER_KIND_COLUMNS, same_number, same_street

# From CONFIRM_THRESHOLD up; 1.01: never book.
GRID = [round(0.15 + 0.01 * i, 2) for i in range(85)] + [1.01]
ORDINAL_SWAPS = {
    "quatorzième": "quatrième",
    "quatrième": "quatorzième",
    "treizième": "troisième",
    "troisième": "treizième",
    "douzième": "deuxième",
    "deuxième": "douzième",
    "seizième": "sixième",
    "sixième": "seizième",
}
LOOP_PROBABILITY = 0.04
NOISE = {"clean": 0.03, "silence-padded": 0.04, "snr20": 0.06, "noise-snr20": 0.06}


def _misspell(word: str, rng: random.Random) -> str:
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    op = rng.choice(("drop", "swap", "vowel", "double"))
    if op == "drop":
        return word[:i] + word[i + 1 :]
    if op == "swap":
        return word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :]
    if op == "vowel":
        return word[:i] + rng.choice("aeiouy") + word[i + 1 :]
    return word[:i] + word[i] + word[i:]


def garble(text: str, condition: str, rng: random.Random) -> str:
    """A transcription of `text` as a telephone-quality Whisper might write it."""
    p = NOISE.get(condition, 0.1)
    if rng.random() < 0.3:
        text = text.lower()
    if rng.random() < 0.3:
        text = re.sub(r"[,;]", "", text)
    words = text.split(" ")
    out: list[str] = []
    for word in words:
        bare = word.strip(".,;!?").lower()
        r = rng.random()
        if bare in ORDINAL_SWAPS and r < p * 2:
            word = word.lower().replace(bare, ORDINAL_SWAPS[bare])
        elif word.isdigit() and r < p * 2:
            word = word[:-1] or word if len(word) > 1 else word + word
        elif word[:1].isupper() and r < p * 4:
            word = _misspell(word, rng)
        elif r < p / 2:
            continue  # a dropped word
        out.append(word)
    garbled = " ".join(out)
    if rng.random() < LOOP_PROBABILITY:
        phrase = " ".join(out[len(out) // 2 : len(out) // 2 + 4])
        garbled += " " + ", ".join([phrase] * rng.randint(6, 15))
    return garbled


class _Steps:
    def __init__(self, understand: Any, geocode: Any) -> None:
        self.u, self.g = understand, geocode

    async def understand(self, inp: Any) -> Any:
        return self.u.understand(inp)

    async def refine_items(self, inp: Any) -> Any:
        return inp.understanding

    async def propose(self, inp: Any) -> Any:
        return self.g.propose_addresses(inp)

    async def score(self, inp: Any) -> Any:
        raise AssertionError("no recording at text level")

    async def resolve(self, inp: Any) -> Any:
        return self.g.resolve_address(inp)


@dataclass
class Outcome:
    id: str
    speaker: str
    kind: str
    booking: bool
    request: str  # a DecisionKind decided without the address, or ""
    geo: GeocodeResult | None
    expected: dict[str, Any]
    can_text: bool = False  # the caller has a mobile (an address missing is asked by SMS)
    condition: str = ""  # the recording's condition (clean, gsm, noise-snr10…)
    # The audio path's whole prediction (`encombot eval`'s), for its other figures (intent,
    # items, name, callback number); None at text level and in outcomes kept before it.
    prediction: dict[str, Any] | None = None


# The expected outcome of a caller who asks only for refused items: no booking, no address
# lookup (the bot refuses first), so no address to judge.
REFUSED_ONLY = "refused"


def is_booking(exp: dict[str, Any]) -> bool:
    """A booking message: the caller asks for a pickup at an address the bot should book
    (or offer). Those whose only items are refused ("refused" outcome) are not: the right
    decision needs no address, and a booking of one counts as a wrong automatic one."""
    return (
        exp.get("intent") == "booking"
        and bool(exp.get("address"))
        and exp.get("outcome") != REFUSED_ONLY
    )


def _right(match: Any, exp: dict[str, Any]) -> bool:
    ea = exp.get("address") or {}
    return (
        match is not None
        and bool(ea)
        and same_street(match.street, ea.get("street", ""))
        and same_number(match.housenumber, ea.get("housenumber", ""))
        and bool(match.sector)
        and match.sector == exp.get("sector")
    )


def decide(o: Outcome, threshold: float) -> tuple[str, bool]:
    """(decision kind, the address it stands on is the expected one)."""
    if o.request or o.geo is None:
        return o.request or DecisionKind.ESCALATE.value, False
    d = ask_instead(decide_address(o.geo, book_threshold=threshold), o.geo, can_text=o.can_text)
    chosen = d.match if d.match is not None else (d.candidates[0] if d.candidates else None)
    return d.kind, _right(chosen, o.expected)


def rates(outcomes: Sequence[Outcome], threshold: float) -> dict[str, float]:
    n = len(outcomes) or 1
    bookings = [o for o in outcomes if o.booking] or []
    wrong = right = esc = sms = asked = 0
    for o in outcomes:
        kind, ok = decide(o, threshold)
        wrong += kind == DecisionKind.BOOK and not (o.booking and ok)
        right += o.booking and ok
        esc += kind == DecisionKind.ESCALATE
        sms += kind == DecisionKind.CONFIRM_BY_SMS
        asked += kind == DecisionKind.ASK_ADDRESS
    return {
        "messages": len(outcomes),
        "address_right": round(right / (len(bookings) or 1), 4),
        "wrong_automatic": round(wrong / n, 4),
        "escalation": round(esc / n, 4),
        "sms_confirmation": round(sms / n, 4),
        "address_asked": round(asked / n, 4),
    }


def per_kind(
    outcomes: Sequence[Outcome], threshold: float, group: str = "kind"
) -> dict[str, dict[str, int]]:
    """Decisions by kind of message (or by `group`, another Outcome field: "condition") at one
    threshold: booked, SMS, escalated, wrong automatic."""
    out: dict[str, dict[str, int]] = {}
    for o in outcomes:
        kind, ok = decide(o, threshold)
        row = out.setdefault(getattr(o, group), dict.fromkeys(PER_KIND_COLUMNS, 0))
        row["messages"] += 1
        row["booked"] += kind == DecisionKind.BOOK
        row["sms"] += kind == DecisionKind.CONFIRM_BY_SMS
        row["address_asked"] += kind == DecisionKind.ASK_ADDRESS
        row["escalated"] += kind == DecisionKind.ESCALATE
        row["wrong_automatic"] += kind == DecisionKind.BOOK and not (o.booking and ok)
    return dict(sorted(out.items()))


RELIABILITY_BINS = (0.0, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95, 1.0001)


def reliability(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """Confidence against observed accuracy: the best match's score of every booking message
    that reached the address lookup, binned, with the share of those whose match is the
    expected address (street, number and sector). A calibrated score sits on the diagonal;
    `ece` is the expected calibration error (bins weighted by their size)."""
    pairs = [
        (o.geo.match.score, _right(o.geo.match, o.expected))
        for o in outcomes
        if o.booking and o.geo is not None and o.geo.match is not None
    ]
    rows = []
    for lo, hi in itertools.pairwise(RELIABILITY_BINS):
        inside = [(c, ok) for c, ok in pairs if lo <= c < hi]
        if not inside:
            continue
        confidence = statistics.mean(c for c, _ in inside)
        accuracy = sum(ok for _, ok in inside) / len(inside)
        rows.append(
            {
                "bin": f"[{lo:.2f}, {min(hi, 1.0):.2f}]" if hi > 1 else f"[{lo:.2f}, {hi:.2f})",
                "messages": len(inside),
                "confidence": round(confidence, 3),
                "accuracy": round(accuracy, 3),
            }
        )
    ece = sum(r["messages"] * abs(r["confidence"] - r["accuracy"]) for r in rows) / max(
        1, len(pairs)
    )
    return {"matched_booking_messages": len(pairs), "bins": rows, "ece": round(ece, 3)}


def choose_threshold(training: Sequence[Outcome], max_wrong: float) -> float:
    return next(t for t in GRID if rates(training, t)["wrong_automatic"] <= max_wrong)


def folds(outcomes: Sequence[Outcome], k: int, seed: int, by_speaker: bool) -> list[list[int]]:
    rng = random.Random(seed)
    if not by_speaker:
        order = list(range(len(outcomes)))
        rng.shuffle(order)
        return [sorted(order[i::k]) for i in range(k)]
    speakers = sorted({o.speaker for o in outcomes})
    rng.shuffle(speakers)
    fold_of = {s: i % k for i, s in enumerate(speakers)}
    return [[j for j, o in enumerate(outcomes) if fold_of[o.speaker] == i] for i in range(k)]


def cross_validate(
    outcomes: Sequence[Outcome], k: int, seed: int, max_wrong: float, by_speaker: bool
) -> dict[str, Any]:
    rows = []
    for i, held in enumerate(folds(outcomes, k, seed, by_speaker)):
        held_set = set(held)
        training = [o for j, o in enumerate(outcomes) if j not in held_set]
        threshold = choose_threshold(training, max_wrong)
        rows.append(
            {"fold": i + 1, "threshold": threshold, **rates([outcomes[j] for j in held], threshold)}
        )
    keys = (
        "threshold",
        "address_right",
        "wrong_automatic",
        "escalation",
        "sms_confirmation",
        "address_asked",
    )
    mean = {key: round(statistics.mean(r[key] for r in rows), 4) for key in keys}
    return {"folds": rows, "mean": mean}


def run_pipeline(corpus: Path, sectors: list[Path], seed: int) -> list[Outcome]:
    from activities.geo.gazetteer import Gazetteer
    from activities.geo.sectors import SectorIndex
    from activities.geo.territory_file import load_territory
    from activities.geocode import GeocodeActivities
    from activities.understand import UnderstandActivities, load_catalogue
    from workers.settings import Settings

    settings = Settings()
    territory = load_territory(settings.geo.territory_dir)
    geocode = GeocodeActivities(
        Gazetteer.load(corpus / "ban-dev.csv.gz", settings.geo.cache_dir),
        SectorIndex.load(sectors),
        settings.geo.min_score,
        territory,
    )
    steps = _Steps(UnderstandActivities(load_catalogue(), territory), geocode)
    entries = json.loads((corpus / "voicemails.json").read_text(encoding="utf-8"))
    rng = random.Random(seed)
    outcomes: list[Outcome] = []

    async def one(entry: dict[str, Any]) -> Outcome:
        text = garble(entry["text"], entry.get("condition", ""), rng)
        msg = Message(call_id=entry["id"], caller_number=entry.get("caller_number", ""), text=text)
        u = await understand_message(steps, msg, note=lambda _: None, refine=False)
        can_text = bool(sms_mobile(u.callback_number, msg.caller_number))
        request = decide_request(u, can_text=can_text)
        geo = None
        if request is None:
            geo = await resolve_address(steps, msg, u, note=lambda _: None, score=False)
        exp = entry.get("expected") or {}
        return Outcome(
            entry["id"],
            entry.get("speaker", ""),
            entry.get("kind", ""),
            is_booking(exp),
            request.kind if request is not None else "",
            geo,
            exp,
            can_text,
            entry.get("condition", ""),
        )

    for entry in entries:
        outcomes.append(asyncio.run(one(entry)))
    return outcomes


def table(title: str, result: dict[str, Any]) -> str:
    head = (
        "| fold | threshold | address right | wrong automatic | escalation | SMS confirmation "
        "| address asked by SMS |"
    )
    lines = [f"**{title}**", "", head, "|---|---|---|---|---|---|---|"]
    for r in [*result["folds"], {"fold": "mean", **result["mean"]}]:
        lines.append(
            f"| {r['fold']} | {r['threshold']:.2f} | {r['address_right']:.1%} | "
            f"{r['wrong_automatic']:.1%} | {r['escalation']:.1%} | {r['sms_confirmation']:.1%} "
            f"| {r.get('address_asked', 0.0):.1%} |"
        )
    return "\n".join(lines)


def build_report(
    outcomes: Sequence[Outcome],
    k: int,
    seed: int,
    max_wrong: float,
    committed: float = BOOK_THRESHOLD,
) -> dict[str, Any]:
    """The folds by message and by speaker, the committed threshold, the reliability curve,
    and the decisions per kind, per condition and per speaker at the by-speaker folds' mean
    threshold."""
    report: dict[str, Any] = {
        "messages": len(outcomes),
        "booking_messages": sum(o.booking for o in outcomes),
        "seed": seed,
        "max_wrong": max_wrong,
        "by_message": cross_validate(outcomes, k, seed, max_wrong, False),
        "by_speaker": cross_validate(outcomes, k, seed, max_wrong, True),
        "committed_threshold": {
            "threshold": committed,
            **rates(outcomes, committed),
        },
    }
    report["reliability"] = reliability(outcomes)
    chosen = report["by_speaker"]["mean"]["threshold"]
    report["per_kind"] = {"threshold": chosen, "kinds": per_kind(outcomes, chosen)}
    if any(o.condition for o in outcomes):
        report["per_condition"] = {
            "threshold": chosen,
            "conditions": per_kind(outcomes, chosen, group="condition"),
        }
    report["per_speaker"] = {
        "threshold": chosen,
        "speakers": per_kind(outcomes, chosen, group="speaker"),
    }
    return report


def print_report(report: dict[str, Any], k: int) -> None:
    print(table(f"{k} folds by message", report["by_message"]))
    print()
    print(table(f"{k} folds by speaker", report["by_speaker"]))
    print()
    print(f"all messages at the committed threshold: {report['committed_threshold']}")
    for key, rows, label in (
        ("per_kind", "kinds", "kind"),
        ("per_condition", "conditions", "condition"),
        ("per_speaker", "speakers", "speaker"),
    ):
        if key not in report:
            continue
        print()
        print(
            f"per {label}, all messages, threshold {report[key]['threshold']:.2f} "
            "(the by-speaker mean):"
        )
        print(f"| {label} | messages | booked | SMS | address asked | escalated | wrong |")
        print("|---|---|---|---|---|---|---|")
        for name, row in report[key][rows].items():
            print(f"| {name} | " + " | ".join(str(v) for v in row.values()) + " |")
    rel = report["reliability"]
    print()
    print(
        f"reliability (best match of {rel['matched_booking_messages']} booking messages, "
        f"ECE {rel['ece']:.3f}):"
    )
    print("| confidence bin | messages | mean confidence | observed accuracy |")
    print("|---|---|---|---|")
    for r in rel["bins"]:
        print(f"| {r['bin']} | {r['messages']} | {r['confidence']:.2f} | {r['accuracy']:.1%} |")


def sectors_of(shared: Path) -> list[Path]:
    geo = shared / "geodata"
    return [
        geo / "marseille-arrondissements-osm-20160128.geojson",
        geo / "communes-metropole-aix-marseille-provence.geojson",
    ]


def fold_arguments(description: str) -> argparse.ArgumentParser:
    """The options of the procedure, shared with bench/calibrate_audio.py."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--corpus", type=Path, default=Path("var/corpus/dev"))
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--max-wrong", type=float, default=0.005)
    return parser


def main() -> None:
    parser = fold_arguments(__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("var/calibration-folds.json"))
    args = parser.parse_args()
    outcomes = run_pipeline(args.corpus, sectors_of(args.shared), args.seed)
    report = build_report(outcomes, args.folds, args.seed, args.max_wrong)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    print_report(report, args.folds)


if __name__ == "__main__":
    main()
