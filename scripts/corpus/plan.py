"""The seeded plan: which message each id is (kind, caller, address, phrasing, speaker,
condition), its text and its ground truth. Pure Python: `--plan-only` needs no TTS.

Reproducibility: the kinds are allocated and shuffled, and the speakers, conditions and
phrasings rotated per kind, from `Random(seed)`; every message then draws from its own
`Random(f"{seed}:{id}")`, so a message never depends on another's draws.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from . import conditions, lexicon, templates
from .message import Message, build_message
from .territory import Territory
from .voices import ESPEAK_SPEED, KOKORO_SPEED, SPEAKERS

# Messages per kind for COUNT=400 (scaled for other counts, largest remainders).
KIND_WEIGHTS: dict[str, int] = {
    "booking": 70,
    "booking_callback": 40,
    "question": 40,
    "question_booking": 35,
    "cancel": 30,
    "refused_only": 30,
    "refused": 35,
    "outside": 45,
    "not_in_ban": 40,
    "no_address": 35,
}
ROTATION_SLOTS = {"kokoro": 2, "espeak": 1}
BOOKABLE = ("booking", "booking_callback", "question_booking", "refused", "refused_only")
NOT_BOOKABLE_PHRASINGS = tuple(
    p for p in templates.PHRASINGS if p not in ("bis_ter", "quartier", "lieu_dit")
)
KIND_PHRASINGS: dict[str, tuple[str, ...]] = {
    **{k: templates.PHRASINGS for k in BOOKABLE},
    "outside": NOT_BOOKABLE_PHRASINGS,
    "not_in_ban": (*NOT_BOOKABLE_PHRASINGS, "quartier"),
    "cancel": ("cancel_address", "cancel_address", "cancel_address", "none", "none"),
    "question": ("none",),
    "no_address": ("none",),
}


def allocate(count: int, weights: dict[str, int]) -> dict[str, int]:
    """Largest-remainder apportionment of `count` over the kinds."""
    total = sum(weights.values())
    exact = {k: count * w / total for k, w in weights.items()}
    out = {k: int(v) for k, v in exact.items()}
    by_remainder = sorted(weights, key=lambda k: (-(exact[k] - out[k]), k))
    for k in by_remainder[: count - sum(out.values())]:
        out[k] += 1
    return out


def received_at(rng: random.Random) -> str:
    """Out of opening hours, November 2026 (UTC)."""
    day = datetime(2026, 11, 2, tzinfo=UTC) + timedelta(days=rng.randrange(28))
    hour = rng.choice((*range(17, 24), *range(0, 6)))
    stamp = day.replace(hour=hour, minute=rng.randrange(60))
    return stamp.isoformat()


def _rotation(rng: random.Random, values: tuple) -> Callable[[], object]:
    """An endless cycle over a shuffled copy of `values` (reshuffled at each lap)."""
    state = {"pool": [], "i": 0}

    def take():
        if state["i"] >= len(state["pool"]):
            state["pool"] = rng.sample(values, len(values))
            state["i"] = 0
        state["i"] += 1
        return state["pool"][state["i"] - 1]

    return take


def voice_setup(speaker_id: str, rng: random.Random) -> dict:
    speaker = next(s for s in SPEAKERS if s.id == speaker_id)
    low, high = KOKORO_SPEED if speaker.engine == "kokoro" else ESPEAK_SPEED
    return {
        "speaker": speaker.id,
        "voice": speaker.voice_label,
        "speed": round(rng.uniform(low, high), 2),
    }


def build_plan(seed: int, count: int, territory: Territory) -> list[dict]:
    rng = random.Random(seed)
    counts = allocate(count, KIND_WEIGHTS)
    kinds = [k for k in KIND_WEIGHTS for _ in range(counts[k])]
    rng.shuffle(kinds)
    speaker_ids = tuple(s.id for s in SPEAKERS)
    # Kokoro speakers take two slots of the rotation, espeak-ng ones one: Whisper base
    # understands little of espeak's formant voices (see README), ~1/6 of the messages.
    slots = tuple(s.id for s in SPEAKERS for _ in range(ROTATION_SLOTS[s.engine]))
    rot = {
        k: (
            _rotation(rng, slots),
            _rotation(rng, conditions.CONDITIONS),
            _rotation(rng, KIND_PHRASINGS[k]),
        )
        for k in KIND_WEIGHTS
    }
    entries = []
    for i, kind in enumerate(kinds):
        ident = f"dev{i + 1:04d}"
        mrng = random.Random(f"{seed}:{ident}")
        speakers, conds, phrasings = rot[kind]
        msg: Message = build_message(kind, str(phrasings()), territory, mrng)
        entry = msg.entry(ident, received_at(mrng))
        entry.update(voice_setup(str(speakers()), mrng))
        condition = str(conds())
        others = [s for s in speaker_ids if s != entry["speaker"]]
        params = conditions.condition_params(condition, mrng, others)
        if condition == "second-speaker":
            params["text"] = mrng.choice(lexicon.BACKGROUND)
        entry["condition"] = condition
        entry["condition_params"] = params
        entry["telephone_quality"] = condition in conditions.TELEPHONE
        entries.append(entry)
    return entries


def stratified_sample(entries: list[dict], n: int, seed: int) -> list[dict]:
    """`n` entries taken round-robin over the kinds (seeded), returned in id order: the
    sample `--sample` synthesises and `corpus-check` transcribes."""
    rng = random.Random(f"{seed}:sample")
    by_kind: dict[str, list[dict]] = {}
    for e in entries:
        by_kind.setdefault(e["kind"], []).append(e)
    pools = {k: rng.sample(v, len(v)) for k, v in sorted(by_kind.items())}
    chosen: list[dict] = []
    while len(chosen) < n and any(pools.values()):
        for k in sorted(pools):
            if pools[k] and len(chosen) < n:
                chosen.append(pools[k].pop())
    return sorted(chosen, key=lambda e: e["id"])
