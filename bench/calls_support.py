"""The scripted call set of bench/bench_calls.py: its format (bench/calls/calls.yaml), the
caller's choice of answer, the scoring of an outcome and the cut-off rule. Pure: no audio, no
I/O besides reading the script, so that tests/scripts/test_bench_calls.py covers it.

An answer is `keys:DIGITS`, or audio: parts joined by ` + `, each a clip (`chave`), part of a
clip (`chave[0.72:]`, seconds from the clip's start) or silence (`~1.5`); `barge:` before the
audio starts it over the bot's prompt instead of after it.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from domain.geotext import fold, split_type
from domain.spelling import keypad_code

SCRIPT = Path(__file__).resolve().parent / "calls" / "calls.yaml"
SOURCES = ("demo", "shared")
# The telephone and recording conditions of scripts/corpus/conditions.py a call may use.
CONDITIONS = ("clean", "ulaw", "alaw", "gsm", "noise-snr20", "noise-snr10", "noise-snr5")
EXPECTS = ("booked", "transfer")
# Phases of domain.live_call_models.Phase a call may script (the rest are not questions).
PHASES = (
    "ask_address",
    "ask_postcode",
    "ask_items",
    "ask_phone",
    "confirm",
    "ask_number",
    "ask_street",
    "check_number",
    "check_street",
    "check_city",
    "spell_street",
)
MOBILE = "0612345678"
# A barge-in turn starts over the prompt: the bot's speech in its first moments is the prompt
# stopping (the live tests allow the greeting 1 s to stop), not the bot talking over the caller.
BARGE_GRACE_S = 1.0
# Silence before a speech frame for it to start the bot's reply (speech_onset).
ONSET_GAP_S = 0.1
# No frame for this long: the bot's prompt has all arrived and the line is idle (the bot sends
# no frame between prompts), so whatever speech comes next is a new reply (line_idle).
LINE_IDLE_S = 0.08

_PART = re.compile(r"^(?P<clip>[a-z_][a-z0-9_]*)(\[(?P<a>[0-9.]*):(?P<b>[0-9.]*)\])?$")
_PAUSE = re.compile(r"^~(?P<s>[0-9]+(\.[0-9]+)?)$")
_KEYS = re.compile(r"^[0-9#*]+$")


class ScriptError(ValueError):
    """The call script is not valid (message says where)."""


@dataclass(frozen=True)
class Clip:
    name: str
    src: str  # "demo:demo01.wav" or "shared:vm004.wav"
    start: float
    end: float
    text: str

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Part:
    """A piece of a spoken answer: a clip from `a` to `b` s (None: its end), or silence."""

    clip: str = ""
    a: float = 0.0
    b: float | None = None
    pause_s: float = 0.0


@dataclass(frozen=True)
class Answer:
    keys: str = ""
    parts: tuple[Part, ...] = ()
    barge: bool = False

    @property
    def spoken(self) -> bool:
        return not self.keys


@dataclass(frozen=True)
class Address:
    name: str
    housenumber: str
    street: str
    postcode: str
    city: str
    clip: str
    items: str
    street_clip: str = ""
    yes: str = "oui_f"
    known: bool = True

    def label(self) -> str:
        """As domain.models.AddressMatch.label() reads it back."""
        return f"{self.housenumber} {self.street}, {self.postcode} {self.city}"


@dataclass(frozen=True)
class Call:
    id: str
    kind: str
    address: Address
    condition: str
    expect: str
    answers: dict[str, tuple[Answer, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Script:
    seed: int
    clips: dict[str, Clip]
    calls: list[Call]


def parse_answer(text: str, clips: dict[str, Clip]) -> Answer:
    text = text.strip()
    if text.startswith("keys:"):
        keys = text.removeprefix("keys:")
        if not _KEYS.match(keys):
            raise ScriptError(f"keys {keys!r}: digits, # and * only")
        return Answer(keys=keys)
    barge = text.startswith("barge:")
    parts: list[Part] = []
    for raw in text.removeprefix("barge:").split("+"):
        token = raw.strip()
        if m := _PAUSE.match(token):
            parts.append(Part(pause_s=float(m["s"])))
            continue
        m = _PART.match(token)
        if m is None:
            raise ScriptError(f"answer part {token!r} is neither a clip nor ~seconds")
        clip = clips.get(m["clip"])
        if clip is None:
            raise ScriptError(f"unknown clip {m['clip']!r}")
        a = float(m["a"]) if m["a"] else 0.0
        b = float(m["b"]) if m["b"] else None
        if a < 0 or (b is not None and not a < b <= clip.duration + 1e-6) or a >= clip.duration:
            raise ScriptError(f"{token!r} is outside the clip ({clip.duration:.2f} s)")
        parts.append(Part(clip=clip.name, a=a, b=b))
    if not any(p.clip for p in parts):
        raise ScriptError(f"answer {text!r} says nothing")
    return Answer(parts=tuple(parts), barge=barge)


def parse_script(data: dict[str, Any]) -> Script:
    """The script from its YAML structure, every reference checked."""
    clips: dict[str, Clip] = {}
    for name, c in (data.get("clips") or {}).items():
        source = str(c["src"]).split(":", 1)[0]
        if source not in SOURCES or ":" not in str(c["src"]):
            raise ScriptError(f"clip {name}: src must be one of {SOURCES} followed by ':file'")
        if not 0 <= float(c["start"]) < float(c["end"]):
            raise ScriptError(f"clip {name}: start must be before end")
        clips[name] = Clip(name, str(c["src"]), float(c["start"]), float(c["end"]), c["text"])
    addresses: dict[str, Address] = {}
    for name, a in (data.get("addresses") or {}).items():
        address = Address(
            name=name,
            housenumber=str(a["housenumber"]),
            street=a["street"],
            postcode=str(a["postcode"]),
            city=a["city"],
            clip=a["clip"],
            items=a["items"],
            street_clip=a.get("street_clip", ""),
            yes=a.get("oui", "oui_f"),
            known=bool(a.get("known", True)),
        )
        for ref in (address.clip, address.items, address.yes, address.street_clip):
            if ref and ref not in clips:
                raise ScriptError(f"address {name}: unknown clip {ref!r}")
        if not re.fullmatch(r"\d{5}", address.postcode):
            raise ScriptError(f"address {name}: postcode {address.postcode!r}")
        addresses[name] = address
    calls: list[Call] = []
    for c in data.get("calls") or []:
        cid = c.get("id", "?")
        if any(cid == other.id for other in calls):
            raise ScriptError(f"call {cid}: id used twice")
        if c.get("address") not in addresses:
            raise ScriptError(f"call {cid}: unknown address {c.get('address')!r}")
        if c.get("condition", "clean") not in CONDITIONS:
            raise ScriptError(f"call {cid}: condition {c.get('condition')!r} not in {CONDITIONS}")
        if c.get("expect") not in EXPECTS:
            raise ScriptError(f"call {cid}: expect must be one of {EXPECTS}")
        answers: dict[str, tuple[Answer, ...]] = {}
        for phase, listed in (c.get("answers") or {}).items():
            if phase not in PHASES:
                raise ScriptError(f"call {cid}: {phase!r} is not a question phase")
            try:
                answers[phase] = tuple(parse_answer(str(t), clips) for t in listed)
            except ScriptError as exc:
                raise ScriptError(f"call {cid}, {phase}: {exc}") from None
        address = addresses[c["address"]]
        if c["expect"] == "booked" and not address.known:
            raise ScriptError(f"call {cid}: expects a booking at an address the bot cannot know")
        calls.append(
            Call(cid, c["kind"], address, c.get("condition", "clean"), c["expect"], answers)
        )
    return Script(int(data.get("seed", 0)), clips, calls)


def load_script(path: Path = SCRIPT) -> Script:
    with path.open(encoding="utf-8") as f:
        return parse_script(yaml.safe_load(f))


def select(calls: list[Call], n: int | None, seed: int) -> list[Call]:
    """`n` calls spread over the kinds (the kinds in script order, the calls of a kind in a
    seeded order, then one of each kind in turn); all of them when n is None."""
    kinds: dict[str, list[Call]] = {}
    for call in calls:
        kinds.setdefault(call.kind, []).append(call)
    rng = random.Random(seed)
    for group in kinds.values():
        rng.shuffle(group)
    spread: list[Call] = []
    while any(kinds.values()):
        for group in kinds.values():
            if group:
                spread.append(group.pop(0))
    return spread if n is None else spread[:n]


def default_answer(call: Call, phase: str) -> Answer:
    """What the caller says when the script does not say otherwise: their address, their
    items, a mobile number and yes on the keypad where it asks for keys."""
    address = call.address
    if phase == "ask_address":
        return Answer(parts=(Part(clip=address.clip),))
    if phase == "ask_items":
        return Answer(parts=(Part(clip=address.items),))
    if phase == "ask_phone":
        return Answer(keys=MOBILE)
    if phase == "ask_postcode":
        return Answer(keys=address.postcode)
    if phase == "ask_number":
        return Answer(keys=f"{address.housenumber}#")
    if phase == "ask_street":
        return Answer(parts=(Part(clip=address.street_clip or address.clip),))
    if phase == "confirm":
        return Answer(parts=(Part(clip=address.yes),))
    raise ScriptError(f"no default answer in {phase}")


def answer_for(
    call: Call, phase: str, visit: int, match: dict[str, str] | None
) -> tuple[Answer, bool]:
    """The caller's answer the `visit`-th time (0 first) the bot waits in `phase`, and whether
    it is a truthful "no" to a read-back. `match`: the address the bot would read back
    (housenumber, street, postcode, label), None when it has none.

    The caller hears the read-back: a wrong address gets 2 (no) on the keypad whatever the
    script says, and each field read back alone gets 1 or 2 as it is right or not. A scripted
    list that runs out repeats its last answer (a caller asked again says it again)."""
    address = call.address
    fields = {"check_number": "housenumber", "check_street": "street", "check_city": "postcode"}
    if phase in fields:
        right = match is not None and _same(
            match.get(fields[phase], ""), getattr(address, fields[phase])
        )
        return Answer(keys="1" if right else "2"), not right
    if phase == "confirm" and (match is None or not _same(match.get("label", ""), address.label())):
        scripted = call.answers.get(phase, ())
        # Hanging up or asking for a person stays scripted; anything else is the caller's no.
        if scripted and scripted[min(visit, len(scripted) - 1)].keys == "0":
            return scripted[min(visit, len(scripted) - 1)], False
        return Answer(keys="2"), True
    scripted = call.answers.get(phase, ())
    if scripted:
        return scripted[min(visit, len(scripted) - 1)], False
    if phase == "spell_street":
        # Spelled letters in the clips' voices are not heard as letters (README): the caller
        # types the street's name, without its type first, and with it when asked again.
        return Answer(keys=typed_street(address.street, with_type=visit > 0)), False
    return default_answer(call, phase), False


def typed_street(street: str, *, with_type: bool) -> str:
    """The keys that type `street`'s name on a phone keypad, one per letter, then `#`."""
    words = fold(street).split()
    return keypad_code(" ".join(words if with_type else split_type(words)[1])) + "#"


def _same(a: str, b: str) -> bool:
    return " ".join(a.casefold().split()) == " ".join(b.casefold().split())


# ------------------------------------------------------------------------------- scoring
def score(call: Call, booked_label: str | None, transferred: bool) -> str:
    """right: booked at the caller's address, or transferred where the script asks for it;
    wrong: a booking anywhere else (the one error that reaches a street); transferred: a person
    takes a call the bot should have booked; missed: neither booking nor transfer."""
    if booked_label is not None:
        if call.expect == "booked" and _same(booked_label, call.address.label()):
            return "right"
        return "wrong"
    if transferred:
        return "right" if call.expect == "transfer" else "transferred"
    return "missed"


def cut_off(
    started: float,
    last_word: float,
    ended: float,
    bot_speech: list[float],
    turn_ends: list[float],
    *,
    barge: bool = False,
) -> str:
    """Why the bot cut the caller off in a turn sent from `started` to `ended` (last voiced
    frame at `last_word`), "" when it did not: it spoke while the turn was being sent
    ("spoke"), or decided the turn had ended before the caller's last word ("ended_early").
    A barge-in turn's first BARGE_GRACE_S are the prompt being stopped."""
    quiet_from = started + (BARGE_GRACE_S if barge else 0.0)
    if any(quiet_from <= at < ended for at in bot_speech):
        return "spoke"
    if any(started <= at < last_word for at in turn_ends):
        return "ended_early"
    return ""


def speech_onset(
    frames: list[tuple[float, bool]], since: float, gap_s: float = ONSET_GAP_S
) -> float | None:
    """Arrival time of the first frame at or after `since` that starts the bot's speech: a
    speech frame with no speech frame in the `gap_s` before it. (frames: arrival time, speech.)
    gap_s=0: the first speech frame from `since` on, for keys sent on an idle line (line_idle):
    a reply that follows a prompt ending on speech is glued to it, with no gap to find, and
    the next gap may be seconds later (a re-prompt: the keys' latency used to read 9 s)."""
    last_speech = float("-inf")
    for at, speech in frames:
        if not speech:
            continue
        if at >= since and at - last_speech > gap_s:
            return at
        last_speech = at
    return None


def line_idle(arrivals: list[float], now: float, idle_s: float = LINE_IDLE_S) -> bool:
    """No bot frame (speech or silence) arrived in the last `idle_s`: the prompt is over on
    the caller's side, not only sent (the caller types then, so its keys' reply can be told
    from the prompt's tail)."""
    return not arrivals or now - arrivals[-1] >= idle_s


def summarize(rows: list[dict[str, Any]], percentile: Any) -> dict[str, Any]:
    """Per rule figures from its calls' rows (bench_calls.run_call's)."""
    booked = [r for r in rows if r["expect"] == "booked"]
    spoken = [t for r in rows for t in r["turns"] if t["spoken"]]
    latencies = [t["latency_s"] for t in spoken if t["latency_s"] is not None]
    keyed = [t["latency_s"] for r in rows for t in r["turns"] if not t["spoken"]]
    keyed = [v for v in keyed if v is not None]
    cuts = sum(1 for t in spoken if t["cut_off"])
    return {
        "calls": len(rows),
        "booked_right": sum(1 for r in booked if r["score"] == "right"),
        "booked_expected": len(booked),
        "booked_right_pct": round(100 * sum(r["score"] == "right" for r in booked) / len(booked), 1)
        if booked
        else None,
        "wrong_bookings": sum(1 for r in rows if r["score"] == "wrong"),
        "transfers_expected": sum(1 for r in rows if r["expect"] == "transfer"),
        "transfers_right": sum(
            1 for r in rows if r["expect"] == "transfer" and r["score"] == "right"
        ),
        "transfers_unexpected": sum(1 for r in rows if r["score"] == "transferred"),
        "missed": sum(1 for r in rows if r["score"] == "missed"),
        "turns": sum(len(r["turns"]) for r in rows),
        "spoken_turns": len(spoken),
        "readbacks_refused": sum(r["readbacks_refused"] for r in rows),
        "latency_p50_s": round(percentile(latencies, 0.5), 3) if latencies else None,
        "latency_p95_s": round(percentile(latencies, 0.95), 3) if latencies else None,
        "keys_latency_p50_s": round(percentile(keyed, 0.5), 3) if keyed else None,
        "cut_offs": cuts,
        "went_on": sum(r.get("went_on", 0) for r in rows),
        "acknowledged": sum(r.get("acknowledged", 0) for r in rows),
        "cut_off_pct": round(100 * cuts / len(spoken), 1) if spoken else None,
    }
