"""`encombot eval`: the accuracy harness.

Runs the real pipeline of the voicemail workflow on every voicemail of a set in the format of
`../shared/voicemails` (`voicemails.json` + audio), with the same activities, called in the
same order, and the same decision rule (`domain.decision`):

    transcribe_voicemail → understand_message → decide_request
      → propose_addresses → score_address_candidates → resolve_address → decide_address

No SMS is sent and no booking is made (the decision is where the workflow would book, ask the
caller to choose by SMS, or escalate). Writes one prediction per voicemail and prints the
metrics; `--metrics` also writes them as JSON with per-voicemail details.

Registered in `workers/cli/main.py` as `app.command("eval")(eval_command)`.
"""

from __future__ import annotations

import hashlib
import json
import math
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from temporalio.exceptions import ApplicationError

from domain import geotext
from domain.address_models import (
    AddressCandidates,
    AddressPassInput,
    AddressScores,
    AddressScoringInput,
    AddressSearchInput,
    ItemRefineInput,
    ResolveAddressInput,
)
from domain.catalogue import Catalogue
from domain.decision import (
    BOOK_THRESHOLD,
    CONFIRM_THRESHOLD,
    Decision,
    DecisionKind,
    decide_address,
    decide_request,
)
from domain.models import (
    AddressMatch,
    GeocodeInput,
    GeocodeResult,
    Intent,
    Segment,
    TranscribeInput,
    TranscribeResult,
    Understanding,
    UnderstandInput,
)
from domain.phone import to_e164

__all__ = [
    "EvalOptions",
    "EvalPipeline",
    "compute_metrics",
    "eval_command",
    "load_voicemail_set",
    "run_evaluation",
]

AUTOMATIC = frozenset({DecisionKind.BOOK.value})


# --------------------------------------------------------------------------- options


@dataclass
class EvalOptions:
    """Which address techniques run. The defaults are what the workflow runs."""

    # Search the whole gazetteer for the street said in the transcript (phonetic, fuzzy,
    # boosted by the locality heard). Off: the historical geocoder on the street as parsed.
    search: bool = True
    # Re-score the candidate streets and house numbers against the audio (forced scoring).
    rescore: bool = True
    # Let the audio choose the catalogue item where the words of the request name none.
    refine_items: bool = True
    # Second, targeted Whisper pass on the address segment with the candidates as prompt
    # (measured: does not help; off by default, see README "Accuracy").
    second_pass: bool = False
    book_threshold: float = BOOK_THRESHOLD
    confirm_threshold: float = CONFIRM_THRESHOLD


# --------------------------------------------------------------------------- data set


def load_voicemail_set(directory: Path) -> list[dict[str, Any]]:
    path = directory / "voicemails.json"
    if not path.is_file():
        raise typer.BadParameter(f"{path} not found (expected a voicemail set)")
    entries = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(entries, list):
        raise typer.BadParameter(f"{path}: a list of voicemails is expected")
    return entries


# --------------------------------------------------------------------------- pipeline


@dataclass
class VoicemailRun:
    prediction: dict[str, Any]
    details: dict[str, Any] = field(default_factory=dict)


class EvalPipeline:
    """The workflow's steps, called in-process in the workflow's order."""

    def __init__(
        self,
        stt: Any,  # activities.transcribe.TranscribeActivities
        understand: Any,  # activities.understand.UnderstandActivities
        geocode: Any,  # activities.geocode.GeocodeActivities
        catalogue: Catalogue,
        options: EvalOptions | None = None,
        transcript_cache: Path | None = None,
    ) -> None:
        self.stt = stt
        self.understand = understand
        self.geocode = geocode
        self.catalogue = catalogue
        self.options = options or EvalOptions()
        self.transcript_cache = transcript_cache

    # ------------------------------------------------------------------ steps

    def _transcribe(self, audio: Path, call_id: str) -> TranscribeResult:
        cache = self._cache_file(audio)
        if cache is not None and cache.is_file():
            data = json.loads(cache.read_text(encoding="utf-8"))
            data["segments"] = [Segment(**s) for s in data["segments"]]
            return TranscribeResult(**data)
        result: TranscribeResult = self.stt.transcribe_file(
            TranscribeInput(audio_path=str(audio), call_id=call_id)
        )
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps(asdict(result), ensure_ascii=False), encoding="utf-8")
        return result

    def _cache_file(self, audio: Path) -> Path | None:
        """Development aid: first-pass transcripts keyed by audio content and STT settings."""
        if self.transcript_cache is None:
            return None
        settings = getattr(self.stt, "_settings", None)
        ident = hashlib.sha256(audio.read_bytes()).hexdigest()[:16]
        knobs = f"{getattr(settings, 'model_path', '')}|{getattr(settings, 'beam_size', '')}"
        knobs += f"|{getattr(settings, 'compute_type', '')}|{getattr(settings, 'vad_filter', '')}"
        tag = hashlib.sha256(knobs.encode()).hexdigest()[:8]
        return self.transcript_cache / f"{audio.stem}-{ident}-{tag}.json"

    def run(self, entry: dict[str, Any], base_dir: Path) -> VoicemailRun:
        opts = self.options
        call_id = str(entry.get("id", ""))
        audio = base_dir / str(entry["audio"])
        caller = str(entry.get("caller_number", ""))
        details: dict[str, Any] = {"timings_s": {}}
        timings = details["timings_s"]

        started = time.perf_counter()
        try:
            transcript = self._transcribe(audio, call_id)
        except ApplicationError as err:
            # The workflow escalates unusable audio to a person (audio_unusable).
            details["error"] = str(err)
            prediction = _prediction(call_id, "", None, _escalation(), None, [], "", 0.0)
            return VoicemailRun(prediction, details)
        timings["transcribe"] = round(time.perf_counter() - started, 3)
        details["stt_processing_s"] = transcript.processing_s
        details["audio_s"] = transcript.duration_s
        text = transcript.text

        u: Understanding = self.understand.understand(
            UnderstandInput(text=text, caller_number=caller)
        )
        if opts.refine_items and u.intent == Intent.BOOKING.value:
            step = time.perf_counter()
            u = self.stt.refine_items(
                ItemRefineInput(
                    audio_path=str(audio),
                    text=text,
                    segments=transcript.segments,
                    understanding=u,
                    call_id=call_id,
                )
            )
            timings["refine_items"] = round(time.perf_counter() - step, 3)
        decision = decide_request(u)
        geo: GeocodeResult | None = None
        match: AddressMatch | None = None
        has_address = u.address is not None and not u.address.is_empty()
        if decision is None or (u.intent == Intent.BOOKING.value and has_address):
            # A booking escalated for another reason (no item recognised) still gets its
            # address resolved: the workflow resolves it when the agent supplies the rest,
            # and the address metrics judge the address steps on every booking.
            geo = self._address(audio, call_id, transcript, u, details)
            by_address = decide_address(
                geo,
                book_threshold=opts.book_threshold,
                confirm_threshold=opts.confirm_threshold,
            )
            match = _chosen(by_address)
            if decision is None:
                decision = by_address
        timings["total"] = round(time.perf_counter() - started, 3)

        if u.address is not None:
            details["understood_address"] = asdict(u.address)
        details["notes"] = list(u.notes)
        details["reason"] = decision.reason
        details["detail"] = decision.detail
        details["offered"] = [c.label() for c in decision.candidates]
        details["offers"] = [
            {"housenumber": c.housenumber, "street": c.street, "sector": c.sector}
            for c in decision.candidates
        ]
        if geo is not None:
            details["geocode_status"] = geo.status
            details["geocode_reason"] = geo.reason
        if decision.kind not in (DecisionKind.BOOK, DecisionKind.CONFIRM_BY_SMS):
            details["address_for_agent"] = match.label() if match is not None else ""
        confidence = match.score if match is not None else u.confidence
        prediction = _prediction(
            call_id,
            text,
            u,
            decision,
            match,
            [{"item": i.item, "count": i.count} for i in u.items],
            u.callback_number,
            confidence,
        )
        return VoicemailRun(prediction, details)

    def _address(
        self,
        audio: Path,
        call_id: str,
        transcript: TranscribeResult,
        u: Understanding,
        details: dict[str, Any],
    ) -> GeocodeResult:
        opts = self.options
        timings = details["timings_s"]
        if not opts.search:
            started = time.perf_counter()
            assert u.address is not None
            geo: GeocodeResult = self.geocode.geocode(GeocodeInput(address=u.address))
            timings["geocode"] = round(time.perf_counter() - started, 3)
            return geo

        text = transcript.text
        segments = transcript.segments
        started = time.perf_counter()
        candidates: AddressCandidates = self.geocode.propose_addresses(
            AddressSearchInput(text=text, address=u.address)
        )
        timings["propose"] = round(time.perf_counter() - started, 3)
        if opts.second_pass and candidates.candidates:
            started = time.perf_counter()
            second = self.stt.transcribe_address(
                AddressPassInput(
                    audio_path=str(audio),
                    text=text,
                    segments=transcript.segments,
                    candidates=candidates,
                    call_id=call_id,
                )
            )
            timings["second_pass"] = round(time.perf_counter() - started, 3)
            details["second_pass"] = second.segment_text
            if second.text and second.text != text:
                # The workflow would understand the refined transcript again, then search.
                u2: Understanding = self.understand.understand(
                    UnderstandInput(text=second.text, caller_number="")
                )
                candidates = self.geocode.propose_addresses(
                    AddressSearchInput(text=second.text, address=u2.address or u.address)
                )
                text = second.text
                segments = second.segments
        details["text_for_address"] = text
        details["candidates"] = [
            f"{c.street} ({c.postcode}) t={c.text_score:.2f} l={c.locality:+.2f}"
            for c in candidates.candidates
        ]
        details["housenumbers_heard"] = list(candidates.housenumbers)
        details["candidate_rows"] = [
            {
                "street": c.street,
                "postcode": c.postcode,
                "text": c.text_score,
                "locality": c.locality,
            }
            for c in candidates.candidates
        ]
        scores: AddressScores | None = None
        if opts.rescore and candidates.candidates:
            started = time.perf_counter()
            scores = self.stt.score_address_candidates(
                AddressScoringInput(
                    audio_path=str(audio),
                    text=text,
                    segments=segments,
                    candidates=candidates,
                    call_id=call_id,
                )
            )
            timings["rescore"] = round(time.perf_counter() - started, 3)
            details["street_scores"] = [round(s, 2) for s in scores.street_scores]
            details["heard_score"] = scores.heard_score
            details["number_scores"] = dict(
                zip(scores.numbers, [round(s, 2) for s in scores.number_scores], strict=True)
            )
        started = time.perf_counter()
        geo = self.geocode.resolve_address(
            ResolveAddressInput(candidates=candidates, scores=scores, address=u.address)
        )
        timings["resolve"] = round(time.perf_counter() - started, 3)
        return geo


def _escalation() -> Decision:
    return Decision(DecisionKind.ESCALATE, "audio_unusable", "audio inutilisable")


def _chosen(decision: Decision) -> AddressMatch | None:
    """The address the decision stands on: the match booked, else the first one offered."""
    if decision.match is not None:
        return decision.match
    complete = [c for c in decision.candidates if c.housenumber]
    ranked = complete or decision.candidates
    return ranked[0] if ranked else None


def _prediction(
    call_id: str,
    text: str,
    u: Understanding | None,
    decision: Decision,
    match: AddressMatch | None,
    items: list[dict[str, Any]],
    callback: str,
    confidence: float,
) -> dict[str, Any]:
    address = None
    if match is not None:
        address = {
            "housenumber": match.housenumber,
            "street": match.street,
            "postcode": match.postcode,
            "citycode": match.citycode,
            "lon": match.lon,
            "lat": match.lat,
        }
    return {
        "id": call_id,
        "transcript": text,
        "intent": u.intent if u is not None else Intent.OTHER.value,
        "decision": decision.kind,
        "address": address,
        "sector": match.sector if match is not None else "",
        "items": items,
        "callback_number": callback,
        "confidence": round(float(confidence), 3),
    }


# --------------------------------------------------------------------------- metrics


def _same_street(a: str, b: str) -> bool:
    return bool(a) and bool(b) and geotext.fold(a) == geotext.fold(b)


def _same_number(a: str, b: str) -> bool:
    pa, pb = geotext.parse_housenumber(a or ""), geotext.parse_housenumber(b or "")
    return pa is not None and pa == pb


def _canonical_items(
    items: Iterable[dict[str, Any]] | None, catalogue: Catalogue
) -> dict[str, int]:
    out: dict[str, int] = {}
    for entry in items or []:
        found = catalogue.get(str(entry["item"]))
        name = found.name if found is not None else str(entry["item"])
        out[name] = out.get(name, 0) + int(entry.get("count", 1))
    return out


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def compute_metrics(
    entries: Sequence[dict[str, Any]],
    predictions: Sequence[dict[str, Any]],
    catalogue: Catalogue,
    stt_seconds: Sequence[float] = (),
    details: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """The metrics of the issue. Rates are fractions (0..1).

    - intent accuracy: over all messages;
    - address metrics: over booking messages (expected intent "booking"); the address judged
      is the one the decision stands on (the match booked, else the first one offered);
      "fully right" = house number + street + sector;
    - items F1: micro F1 over item counts (canonical catalogue names), all messages;
    - wrong automatic decisions: `book` with a wrong address or sector, or for a message that
      is not a booking, over all messages;
    - escalation rate: `escalate` decisions over all messages (`confirm_by_sms` is not one).
    """
    by_id = {str(p["id"]): p for p in predictions}
    n = len(entries)
    intent_ok = 0
    booking = 0
    addr = street = number = sector = 0
    offered_ok = 0
    callback_ok = 0
    tp = fp = fn = 0
    escalations = 0
    wrong_auto = 0
    decisions: dict[str, int] = {}
    rows: list[dict[str, Any]] = []
    detail_by_id = {str(d.get("id")): d for d in details}
    for entry in entries:
        vid = str(entry["id"])
        exp = entry.get("expected") or {}
        pred = by_id.get(vid) or {}
        decision = str(pred.get("decision", ""))
        decisions[decision] = decisions.get(decision, 0) + 1
        if pred.get("intent") == exp.get("intent"):
            intent_ok += 1
        expected_cb = to_e164(str(exp.get("callback_number") or "")) or exp.get("callback_number")
        if expected_cb and pred.get("callback_number") == expected_cb:
            callback_ok += 1
        want = _canonical_items(exp.get("items"), catalogue)
        got = _canonical_items(pred.get("items"), catalogue)
        for name in set(want) | set(got):
            common = min(want.get(name, 0), got.get(name, 0))
            tp += common
            fp += got.get(name, 0) - common
            fn += want.get(name, 0) - common
        if decision == DecisionKind.ESCALATE.value:
            escalations += 1
        pa = pred.get("address") or {}
        ea = exp.get("address") or {}
        ok_street = _same_street(pa.get("street", ""), ea.get("street", ""))
        ok_number = _same_number(pa.get("housenumber", ""), ea.get("housenumber", ""))
        ok_sector = bool(pred.get("sector")) and pred.get("sector") == exp.get("sector")
        full = ok_street and ok_number and ok_sector
        is_booking = exp.get("intent") == Intent.BOOKING.value
        if is_booking:
            booking += 1
            addr += full
            street += ok_street
            number += ok_number
            sector += ok_sector
            offered = detail_by_id.get(vid, {}).get("offered_full") or []
            offered_ok += full or any(offered)
        if decision in AUTOMATIC and not (is_booking and full):
            wrong_auto += 1
        rows.append(
            {
                "id": vid,
                "intent": pred.get("intent", ""),
                "expected_intent": exp.get("intent", ""),
                "decision": decision,
                "address": " ".join(
                    x for x in (pa.get("housenumber", ""), pa.get("street", "")) if x
                ),
                "expected_address": " ".join(
                    x for x in (ea.get("housenumber", ""), ea.get("street", "")) if x
                ),
                "sector": pred.get("sector", ""),
                "expected_sector": exp.get("sector", "") or "",
                "address_ok": full if is_booking else None,
                "confidence": pred.get("confidence", 0.0),
            }
        )
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0

    def rate(k: int, total: int) -> float:
        return round(k / total, 4) if total else 0.0

    stt = [s for s in stt_seconds if s is not None]
    return {
        "messages": n,
        "booking_messages": booking,
        "intent_accuracy": rate(intent_ok, n),
        "address_fully_right": rate(addr, booking),
        "street_right": rate(street, booking),
        "number_right": rate(number, booking),
        "sector_right": rate(sector, booking),
        "address_right_or_offered": rate(offered_ok, booking),
        "items_f1": round(f1, 4),
        "items_precision": round(precision, 4),
        "items_recall": round(recall, 4),
        "callback_number_right": rate(callback_ok, n),
        "escalation_rate": rate(escalations, n),
        "wrong_automatic_decisions": rate(wrong_auto, n),
        "wrong_automatic_count": wrong_auto,
        "decisions": dict(sorted(decisions.items())),
        "transcription_s_mean": round(statistics.mean(stt), 3) if stt else None,
        "transcription_s_p95": round(percentile(stt, 0.95), 3) if stt else None,
        "rows": rows,
    }


TARGETS: dict[str, tuple[str, float]] = {
    "address_fully_right": (">=", 0.80),
    "wrong_automatic_decisions": ("<=", 0.02),
    "intent_accuracy": (">=", 0.95),
    "items_f1": (">=", 0.85),
    "escalation_rate": ("<=", 0.25),
}


def print_report(metrics: dict[str, Any], console: Console) -> None:
    table = Table(title="Voicemails", show_lines=False)
    for col in ("id", "intent", "decision", "address", "expected", "sector", "ok", "conf"):
        table.add_column(col)
    for row in metrics["rows"]:
        ok = row["address_ok"]
        mark = "" if ok is None else ("[green]✓[/]" if ok else "[red]✗[/]")
        intent = row["intent"]
        if intent != row["expected_intent"]:
            intent = f"[red]{intent}[/] ({row['expected_intent']})"
        sector = row["sector"]
        if row["expected_sector"] and sector != row["expected_sector"]:
            sector = f"{sector or '-'}≠{row['expected_sector']}"
        table.add_row(
            row["id"],
            intent,
            row["decision"],
            row["address"],
            row["expected_address"],
            sector,
            mark,
            f"{row['confidence']:.2f}",
        )
    console.print(table)
    summary = Table(title="Metrics")
    summary.add_column("metric")
    summary.add_column("value", justify="right")
    summary.add_column("target")
    for key in (
        "intent_accuracy",
        "address_fully_right",
        "street_right",
        "number_right",
        "sector_right",
        "address_right_or_offered",
        "items_f1",
        "callback_number_right",
        "escalation_rate",
        "wrong_automatic_decisions",
    ):
        value = metrics[key]
        target = TARGETS.get(key)
        shown = f"{value:.1%}" if key != "items_f1" else f"{value:.3f}"
        mark = ""
        if target is not None:
            op, bound = target
            met = value >= bound if op == ">=" else value <= bound
            mark = f"{'[green]' if met else '[red]'}{op} {bound:g}[/]"
        summary.add_row(key, shown, mark)
    summary.add_row(
        "transcription s mean / p95",
        f"{metrics['transcription_s_mean']} / {metrics['transcription_s_p95']}",
        "",
    )
    summary.add_row("decisions", json.dumps(metrics["decisions"]), "")
    console.print(summary)


# --------------------------------------------------------------------------- runner


def run_evaluation(
    directory: Path,
    pipeline: EvalPipeline,
    *,
    ids: Sequence[str] = (),
    progress: Callable[[str, dict[str, Any]], None] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    entries = load_voicemail_set(directory)
    if ids:
        wanted = set(ids)
        entries = [e for e in entries if str(e.get("id")) in wanted]
    predictions: list[dict[str, Any]] = []
    details: list[dict[str, Any]] = []
    stt_seconds: list[float] = []
    started = time.perf_counter()
    for entry in entries:
        run = pipeline.run(entry, directory)
        predictions.append(run.prediction)
        exp = (entry.get("expected") or {}).get("address") or {}
        offered_full = [
            _offer_matches(label, exp, entry.get("expected") or {})
            for label in run.details.get("offers", [])
        ]
        run.details["offered_full"] = offered_full
        run.details["id"] = entry.get("id")
        details.append(run.details)
        if "stt_processing_s" in run.details:
            stt_seconds.append(
                run.details["stt_processing_s"]
                + run.details["timings_s"].get("second_pass", 0.0)
                + run.details["timings_s"].get("rescore", 0.0)
                + run.details["timings_s"].get("refine_items", 0.0)
            )
        if progress is not None:
            progress(str(entry.get("id")), run.prediction)
    catalogue = pipeline.catalogue
    metrics = compute_metrics(entries, predictions, catalogue, stt_seconds, details)
    metrics["first_pass_s_mean"] = _mean(d.get("stt_processing_s") for d in details)
    for step in (
        "refine_items",
        "propose",
        "second_pass",
        "rescore",
        "resolve",
        "geocode",
        "total",
    ):
        metrics[f"{step}_s_mean"] = _mean(d["timings_s"].get(step) for d in details)
    metrics["wall_s"] = round(time.perf_counter() - started, 1)
    metrics["options"] = asdict(pipeline.options)
    metrics["per_voicemail"] = details
    return predictions, metrics


def _offer_matches(offer: dict[str, str], exp: dict[str, Any], expected: dict[str, Any]) -> bool:
    return (
        _same_street(offer.get("street", ""), exp.get("street", ""))
        and _same_number(offer.get("housenumber", ""), exp.get("housenumber", ""))
        and offer.get("sector") == expected.get("sector")
    )


def _mean(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return round(statistics.mean(kept), 3) if kept else None


def build_pipeline(
    ban: Path,
    sectors: Sequence[Path],
    options: EvalOptions,
    transcript_cache: Path | None = None,
) -> EvalPipeline:
    """The activities as the workers build them, from the settings (model, thresholds)."""
    from activities.geo.gazetteer import Gazetteer
    from activities.geo.sectors import SectorIndex
    from activities.geo.territory_file import load_territory
    from activities.geocode import GeocodeActivities
    from activities.transcribe import TranscribeActivities
    from activities.understand import UnderstandActivities, load_catalogue
    from workers.settings import Settings

    settings = Settings()
    catalogue = load_catalogue(settings.booking.items_file)
    territory = load_territory(settings.geo.territory_dir)
    gazetteer = Gazetteer.load(ban, settings.geo.cache_dir)
    sector_index = SectorIndex.load(list(sectors))
    geocode = GeocodeActivities(gazetteer, sector_index, settings.geo.min_score, territory)
    stt = TranscribeActivities(settings.stt, catalogue, territory=territory)
    return EvalPipeline(
        stt,
        UnderstandActivities(catalogue, territory),
        geocode,
        catalogue,
        options,
        transcript_cache=transcript_cache,
    )


def eval_command(
    directory: Annotated[
        Path,
        typer.Argument(exists=True, file_okay=False, help="voicemail set: voicemails.json + audio"),
    ],
    ban: Annotated[
        Path, typer.Option("--ban", exists=True, dir_okay=False, help="BAN CSV[.gz] gazetteer")
    ],
    sectors: Annotated[
        list[Path],
        typer.Option("--sectors", exists=True, dir_okay=False, help="sector GeoJSON (repeat)"),
    ],
    predictions: Annotated[
        Path, typer.Option("--predictions", dir_okay=False, help="write predictions here")
    ],
    metrics: Annotated[
        Path | None, typer.Option("--metrics", dir_okay=False, help="write metrics JSON here")
    ] = None,
    search: Annotated[
        bool, typer.Option(help="search the gazetteer for the street said (phonetic)")
    ] = True,
    rescore: Annotated[
        bool, typer.Option(help="re-score candidate addresses against the audio")
    ] = True,
    refine_items: Annotated[
        bool, typer.Option(help="let the audio choose items the words do not name")
    ] = True,
    second_pass: Annotated[
        bool, typer.Option(help="second Whisper pass on the address with candidate prompts")
    ] = False,
    book_threshold: Annotated[
        float, typer.Option(help="confidence needed to book without asking")
    ] = BOOK_THRESHOLD,
    confirm_threshold: Annotated[
        float, typer.Option(help="confidence needed to offer an address by SMS")
    ] = CONFIRM_THRESHOLD,
    only: Annotated[
        list[str] | None, typer.Option("--only", help="evaluate these voicemail ids only")
    ] = None,
    transcript_cache: Annotated[
        Path | None,
        typer.Option(
            "--transcript-cache",
            file_okay=False,
            help="development: reuse first-pass transcripts kept in this directory",
        ),
    ] = None,
) -> None:
    """Run the real pipeline on a voicemail set and measure it (no SMS, no booking)."""
    console = Console()
    options = EvalOptions(
        search=search,
        rescore=rescore,
        refine_items=refine_items,
        second_pass=second_pass,
        book_threshold=book_threshold,
        confirm_threshold=confirm_threshold,
    )
    pipeline = build_pipeline(ban, sectors, options, transcript_cache)

    def progress(vid: str, pred: dict[str, Any]) -> None:
        console.print(f"{vid}: {pred['intent']} → {pred['decision']}", highlight=False)

    preds, report = run_evaluation(directory, pipeline, ids=only or (), progress=progress)
    predictions.parent.mkdir(parents=True, exist_ok=True)
    predictions.write_text(json.dumps(preds, ensure_ascii=False, indent=2), encoding="utf-8")
    print_report(report, console)
    if metrics is not None:
        metrics.parent.mkdir(parents=True, exist_ok=True)
        metrics.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
