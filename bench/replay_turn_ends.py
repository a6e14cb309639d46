"""Benchmark: where each end-of-turn rule ends recorded utterances, frame by frame, offline.

    .venv/bin/python bench/replay_turn_ends.py --out var/replay-turn-ends.json

The decision alone, without the call around it (no Temporal, no speech-to-text, no synthesis,
no real time): each utterance is fed as 20 ms frames with webrtcvad's flags (mode 2, as on a
call) to domain/turn_detector.py with the fixed pause only (no model: the same pause as the live
path's fixed rule, 700 ms, 1.2 s at the address), and with Smart Turn at a few thresholds.
Utterances: the live-call bench's caller turns (tests/fakes/caller_turns.py), the same
address with a 1.5 s pause after "j'habite au douze", and the 40 development voicemails
(../shared/voicemails: long monologues whose pauses between sentences and words are where a
rule may end a turn too early). Each time a rule ends the turn the replay starts a new one
(the caller would have been cut off there): an end before the utterance's last voiced frame
is a cut-off, counted against the pauses of 200 ms or more the utterance has before its end;
the delay is from the last voiced frame to the end that follows it. Prints a table, JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from domain.stats import percentile  # noqa: E402 - the repository first on the path

FRAME_BYTES = 320
LEAD_S, TAIL_S = 0.3, 3.0
PAUSE_AT_S, PAUSE_S = 0.95, 1.5


def utterances(shared: Path) -> dict[str, tuple[bytes, str]]:
    """name -> (slin16 8 kHz with silence around it, the question it answers)."""
    from tests.fakes.audiosocket_client import load_slin8k
    from tests.fakes.caller_turns import caller_turn

    lead, tail = b"\x00" * int(LEAD_S * 16000), b"\x00" * int(TAIL_S * 16000)
    address = caller_turn("address")
    cut = int(PAUSE_AT_S * 8000) * 2
    paused = address[:cut] + b"\x00" * int(PAUSE_S * 16000) + address[cut:]
    out = {
        "turn:address": (address, "address"),
        "turn:address_paused": (paused, "address"),
        "turn:items": (caller_turn("items"), "speech"),
        "turn:yes": (caller_turn("yes"), "yes_no"),
        "turn:question": (caller_turn("question"), "speech"),
    }
    listing = shared / "voicemails" / "voicemails.json"
    if listing.is_file():
        for vm in json.loads(listing.read_text(encoding="utf-8")):
            audio = load_slin8k(shared / "voicemails" / vm["audio"])
            out[f"voicemail:{vm['id']}"] = (audio, "speech")
    return {name: (lead + pcm + tail, expect) for name, (pcm, expect) in out.items()}


def replay(pcm: bytes, flags: list[bool], new_detector: Any) -> list[int]:
    """Frame counts into `pcm` at which the turns ended, a new turn after each end."""
    from domain.turn_detector import Decision

    ends = []
    detector = new_detector()
    for i, voiced in enumerate(flags):
        frame = pcm[i * FRAME_BYTES : (i + 1) * FRAME_BYTES]
        if detector.feed(frame, voiced, i * 0.02, False) == Decision.END:
            ends.append(i + 1)
            detector = new_detector()
    return ends


def pauses(flags: list[bool], last: int, min_frames: int = 10) -> int:
    """Silences of min_frames or more between voiced frames, before the last one."""
    count, run, spoken = 0, 0, False
    for voiced in flags[:last]:
        if voiced:
            count += spoken and run >= min_frames
            run, spoken = 0, True
        else:
            run += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--thresholds", default="0.5,0.85")
    parser.add_argument("--out", type=Path, default=Path("var/replay-turn-ends.json"))
    args = parser.parse_args()

    import webrtcvad

    from activities.live.smart_turn import smart_turn
    from activities.live.turns import TurnTaking

    model = smart_turn()
    clips = utterances(args.shared)
    scores: dict[tuple[str, int], float | None] = {}  # one inference per (clip, length)
    rules: dict[str, dict[str, Any]] = {"fixed": {"rule": "fixed"}}
    for t in (float(x) for x in args.thresholds.split(",")):
        rules[f"smart {t}"] = {"rule": "smart", "smart_threshold": t}
    results: dict[str, dict[str, Any]] = {name: {} for name in rules}
    started = time.monotonic()
    for clip, (pcm, expect) in clips.items():
        n = len(pcm) // FRAME_BYTES
        frames = [pcm[i * FRAME_BYTES : (i + 1) * FRAME_BYTES] for i in range(n)]
        vad = webrtcvad.Vad(2)  # adaptive: one per utterance, as one per call on the line
        flags = [vad.is_speech(frame, 8000) for frame in frames]
        last = max(i for i, v in enumerate(flags) if v) + 1
        for name, rule in rules.items():

            def scored(audio: bytes, clip: str = clip) -> float | None:
                key = (clip, len(audio))
                if key not in scores:
                    scores[key] = model.completion_probability(audio)
                return scores[key]

            model_of_rule = scored if rule["rule"] == "smart" else None
            # Voicemails run past a call's 20 s turn: only the pauses may end them here.
            turns = TurnTaking(**rule, max_utterance_s=60, completion_probability=model_of_rule)
            ends = replay(pcm, flags, lambda turns=turns, expect=expect: turns.detector(expect))
            after = [e for e in ends if e >= last]
            results[name][clip] = {
                "pauses": pauses(flags, last),
                "cut_offs": sum(e < last for e in ends),
                "delay_s": round((after[0] - last) * 0.02, 2) if after else None,
            }
    report: dict[str, Any] = {"rules": {}, "per_clip": results}
    for name, per_clip in results.items():
        for group in ("turn", "voicemail"):
            rows = {c: r for c, r in per_clip.items() if c.startswith(group)}
            delays = [r["delay_s"] for r in rows.values() if r["delay_s"] is not None]
            report["rules"][f"{name} / {group}"] = {
                "utterances": len(rows),
                "pauses": sum(r["pauses"] for r in rows.values()),
                "cut_offs": sum(r["cut_offs"] for r in rows.values()),
                "cut": sorted(c for c, r in rows.items() if r["cut_offs"]),
                "delay_p50_s": round(percentile(delays, 0.5), 2),
                "delay_p95_s": round(percentile(delays, 0.95), 2),
            }
    timings = list(model.timings)
    report["smart_turn_inference"] = {
        "n": len(timings),
        "p50_ms": round(percentile(timings, 0.5) * 1000, 1),
        "p95_ms": round(percentile(timings, 0.95) * 1000, 1),
        "max_ms": round(max(timings) * 1000, 1) if timings else None,
    }
    report["machine"] = {"cpus": os.cpu_count(), "load_avg_after": os.getloadavg()}
    report["wall_s"] = round(time.monotonic() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, ensure_ascii=False), "utf-8")
    print(f"{'rule / utterances':<24} {'n':>3} {'cut-offs / pauses':>18} {'delay p50/p95 s':>16}")
    for name, row in report["rules"].items():
        cells = f"{row['delay_p50_s']}/{row['delay_p95_s']}"
        cut = f"{row['cut_offs']} / {row['pauses']}"
        print(f"{name:<24} {row['utterances']:>3} {cut:>18} {cells:>16}")
    print(f"Smart Turn inference: {report['smart_turn_inference']}")
    load = report["machine"]["load_avg_after"]
    print(f"{report['wall_s']} s, load {load}; written to {args.out}")


if __name__ == "__main__":
    main()
