"""Distribution of a planned corpus (printed by --plan-only and after each run)."""

from __future__ import annotations

from collections import Counter

from .voices import BY_ID


def _line(title: str, counter: Counter) -> str:
    parts = [f"{k}={v}" for k, v in sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0])))]
    return f"{title} ({len(counter)}): " + ", ".join(parts)


def distribution(entries: list[dict]) -> str:
    addressed = [e for e in entries if e["expected"]["address"]]
    lines = [
        f"messages: {len(entries)}",
        _line("kind", Counter(e["kind"] for e in entries)),
        _line("outcome", Counter(e["expected"]["outcome"] for e in entries)),
        _line("intent", Counter(e["expected"]["intent"] for e in entries)),
        _line("phrasing", Counter(e["phrasing"] for e in entries)),
        _line("locality_form", Counter(str(e["locality_form"]) for e in entries)),
        _line("territory", Counter(str(e["territory"]) for e in entries)),
        _line("speaker", Counter(e["speaker"] for e in entries)),
        _line("engine", Counter(BY_ID[e["speaker"]].engine for e in entries)),
        _line("condition", Counter(e["condition"] for e in entries)),
        _line(
            "topic", Counter(str(e["expected"]["topic"]) for e in entries if e["expected"]["topic"])
        ),
        f"expected addresses: {len(addressed)} (in the BAN extension: "
        f"{sum(e['ban_extension'] for e in entries)}; street name also in another commune: "
        f"{sum(bool(e['homonyms']) for e in addressed)}); outside callers naming a Marseille "
        f"street: {sum('13055' in e['homonyms'] for e in entries if e['kind'] == 'outside')}",
    ]
    lines.append(_matrix(entries, "kind", "condition"))
    return "\n".join(lines)


def _matrix(entries: list[dict], row: str, col: str) -> str:
    rows = sorted({e[row] for e in entries})
    cols = sorted({e[col] for e in entries})
    width = max(len(r) for r in rows) + 1
    short = [
        c.replace("noise-snr", "snr")
        .replace("second-speaker", "2nd")
        .replace("silence-padded", "pad")[:8]
        for c in cols
    ]
    out = [f"{row} × {col}", " " * width + " ".join(f"{c:>8}" for c in short)]
    for r in rows:
        counts = Counter(e[col] for e in entries if e[row] == r)
        out.append(f"{r:<{width}}" + " ".join(f"{counts.get(c, 0):>8}" for c in cols))
    return "\n".join(out)
