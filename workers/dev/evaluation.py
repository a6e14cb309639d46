"""`encombot eval`: the accuracy harness.

Runs the real pipeline of the voicemail workflow on every voicemail of a set in the format of
`../shared/voicemails` (`voicemails.json` + audio): the same sequence and rules as the workflow
(`domain.pipeline`, shared with it), its steps being the activities' engines called in-process,
and the same decision rule (`domain.decision`):

    transcribe_voicemail → understand_message → refine_items → decide_request
      → propose_addresses → score_address_candidates → resolve_address → decide_address

No SMS is sent and no booking is made (the decision is where the workflow would book, ask the
caller to choose by SMS, or escalate). Writes one prediction per voicemail and prints the
metrics; `--metrics` also writes them as JSON with per-voicemail details.

The command is `workers/cli/eval.py`; the metrics `eval_metrics.py`, their report
`eval_report.py`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import typer
from temporalio.exceptions import ApplicationError

from activities.speech.second_pass import AddressPassInput
from domain.address_models import (
    AddressCandidates,
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
    ask_instead,
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
from domain.phone import sms_mobile
from domain.pipeline import (
    Message,
    StepFailed,
    decide_on_address,
    resolve_address,
    understand_message,
)
from workers.dev.eval_metrics import compute_metrics, mean, offer_matches
from workers.settings import Settings

__all__ = [
    "EvalOptions",
    "EvalPipeline",
    "build_pipeline",
    "load_voicemail_set",
    "run_evaluation",
]

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
    # 0: the committed ones (domain.decision.book_threshold_for: with or without the vote).
    book_threshold: float = 0.0
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
    # What the decision stands on, for a calibration that decides again at other thresholds
    # (bench/calibrate_audio.py): the request's own decision (escalate, refuse, answer…) made
    # before any address, or "", and the address lookup's result.
    request: str = ""
    geo: GeocodeResult | None = None
    can_text: bool = False


class EvalPipeline:
    """The workflow's pipeline (domain/pipeline.py, the same sequence and rules), its steps
    called in-process on the engines the workers hold instead of as activities."""

    def __init__(
        self,
        stt: Any,  # activities.speech.engine.SpeechEngine
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
        return asyncio.run(self._run(entry, base_dir))

    async def _run(self, entry: dict[str, Any], base_dir: Path) -> VoicemailRun:
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
            return VoicemailRun(prediction, details, request=DecisionKind.ESCALATE.value)
        timings["transcribe"] = round(time.perf_counter() - started, 3)
        details["stt_processing_s"] = transcript.processing_s
        details["audio_s"] = transcript.duration_s
        text = transcript.text
        msg = Message(call_id, caller, text, transcript.segments, audio_path=str(audio))
        steps = _EngineSteps(self, msg, details)

        u = await understand_message(steps, msg, note=steps.note, refine=opts.refine_items)
        can_text = bool(sms_mobile(u.callback_number, caller))
        decision = decide_request(u, can_text=can_text)
        request = decision.kind if decision is not None else ""
        geo: GeocodeResult | None = None
        match: AddressMatch | None = None
        has_address = u.address is not None and not u.address.is_empty()
        if decision is None or (u.intent == Intent.BOOKING.value and has_address):
            # A booking escalated for another reason (no item recognised) still gets its
            # address resolved: the workflow resolves it when the agent supplies the rest,
            # and the address metrics judge the address steps on every booking.
            geo = await self._address(steps, msg, u, details)
            by_address = decide_on_address(
                geo,
                book_threshold=opts.book_threshold or BOOK_THRESHOLD,
                confirm_threshold=opts.confirm_threshold,
            )
            match = _chosen(by_address)
            if decision is None:
                # A street without its number is asked by SMS, as the workflow does.
                decision = ask_instead(by_address, geo, can_text=can_text)
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
            items_to_collect(u, decision),
            u.callback_number,
            confidence,
        )
        return VoicemailRun(prediction, details, request=request, geo=geo, can_text=can_text)

    async def _address(
        self, steps: _EngineSteps, msg: Message, u: Understanding, details: dict[str, Any]
    ) -> GeocodeResult:
        if not self.options.search:
            # Measurement option: the historical geocoder on the street as parsed.
            started = time.perf_counter()
            assert u.address is not None
            geo: GeocodeResult = self.geocode.geocode(GeocodeInput(address=u.address))
            details["timings_s"]["geocode"] = round(time.perf_counter() - started, 3)
            return geo
        return await resolve_address(steps, msg, u, note=steps.note, score=self.options.rescore)


class _EngineSteps:
    """The pipeline's steps (domain.pipeline.PipelineSteps) for one voicemail, timed and
    recorded in its details. As in the workflow, where an activity's failure is StepFailed
    for the optional steps, an optional step that raises is StepFailed here."""

    def __init__(self, pipeline: EvalPipeline, msg: Message, details: dict[str, Any]) -> None:
        self._p = pipeline
        self._details = details
        self._timings: dict[str, float] = details["timings_s"]
        self._audio = msg.audio_path
        self._call_id = msg.call_id
        # The words the address is scored on: the transcript's, or the second pass's.
        self._text = msg.text
        self._segments = msg.segments

    def note(self, line: str) -> None:
        self._details.setdefault("step_failures", []).append(line)

    async def understand(self, inp: UnderstandInput) -> Understanding:
        u: Understanding = self._p.understand.understand(inp)
        return u

    async def refine_items(self, inp: ItemRefineInput) -> Understanding:
        started = time.perf_counter()
        try:
            u: Understanding = self._p.stt.refine_items(inp)
        except Exception as err:
            raise StepFailed(str(err)) from err
        self._timings["refine_items"] = round(time.perf_counter() - started, 3)
        return u

    async def propose(self, inp: AddressSearchInput) -> AddressCandidates:
        started = time.perf_counter()
        candidates: AddressCandidates = self._p.geocode.propose_addresses(inp)
        self._timings["propose"] = round(time.perf_counter() - started, 3)
        if self._p.options.second_pass and candidates.candidates:
            candidates = self._second_pass(inp, candidates)
        details = self._details
        details["text_for_address"] = self._text
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
        return candidates

    def _second_pass(
        self, inp: AddressSearchInput, candidates: AddressCandidates
    ) -> AddressCandidates:
        """Measurement option: a second, targeted Whisper pass on the address segment."""
        started = time.perf_counter()
        second = self._p.stt.transcribe_address(
            AddressPassInput(
                audio_path=self._audio,
                text=self._text,
                segments=self._segments,
                candidates=candidates,
                call_id=self._call_id,
            )
        )
        self._timings["second_pass"] = round(time.perf_counter() - started, 3)
        self._details["second_pass"] = second.segment_text
        if not second.text or second.text == self._text:
            return candidates
        # The workflow would understand the refined transcript again, then search.
        u2: Understanding = self._p.understand.understand(
            UnderstandInput(text=second.text, caller_number="")
        )
        self._text, self._segments = second.text, second.segments
        refined: AddressCandidates = self._p.geocode.propose_addresses(
            AddressSearchInput(text=second.text, address=u2.address or inp.address)
        )
        return refined

    async def score(self, inp: AddressScoringInput) -> AddressScores:
        started = time.perf_counter()
        try:
            scores: AddressScores = self._p.stt.score_address_candidates(
                replace(inp, text=self._text, segments=self._segments)
            )
        except Exception as err:
            raise StepFailed(str(err)) from err
        self._timings["rescore"] = round(time.perf_counter() - started, 3)
        self._details["street_scores"] = [round(s, 2) for s in scores.street_scores]
        self._details["heard_score"] = scores.heard_score
        self._details["number_scores"] = dict(
            zip(scores.numbers, [round(s, 2) for s in scores.number_scores], strict=True)
        )
        return scores

    async def resolve(self, inp: ResolveAddressInput) -> GeocodeResult:
        started = time.perf_counter()
        geo: GeocodeResult = self._p.geocode.resolve_address(inp)
        self._timings["resolve"] = round(time.perf_counter() - started, 3)
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


def items_to_collect(u: Understanding, decision: Decision) -> list[dict[str, Any]]:
    """The items the prediction says the bot collects. A message answered as a question or
    taken for a cancellation books nothing: the item a question asks about (« vous prenez les
    sommiers ? ») is its subject, the expectation's asked_item, and a cancellation's are those
    of a booking made before; neither is an item to collect."""
    if decision.kind in (DecisionKind.ANSWER, DecisionKind.CANCEL):
        return []
    return [{"item": i.item, "count": i.count} for i in u.items]


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
        # Who called and where to call back, beside the address (scored by eval_metrics).
        "caller_name": u.caller_name if u is not None else "",
        # A question asked beside the pickup request (the workflow answers it by SMS).
        "question": u.question if u is not None else "",
        "callback_number": callback,
        "confidence": round(float(confidence), 3),
    }


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
            offer_matches(label, exp, entry.get("expected") or {})
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
    metrics["first_pass_s_mean"] = mean(d.get("stt_processing_s") for d in details)
    for step in (
        "refine_items",
        "propose",
        "second_pass",
        "rescore",
        "resolve",
        "geocode",
        "total",
    ):
        metrics[f"{step}_s_mean"] = mean(d["timings_s"].get(step) for d in details)
    metrics["wall_s"] = round(time.perf_counter() - started, 1)
    metrics["options"] = asdict(pipeline.options)
    metrics["per_voicemail"] = details
    return predictions, metrics


def build_pipeline(
    settings: Settings,
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
    from activities.speech.engine import SpeechEngine
    from activities.understand import UnderstandActivities, load_catalogue

    catalogue = load_catalogue(settings.booking.items_file)
    territory = load_territory(settings.geo.territory_dir)
    gazetteer = Gazetteer.load(ban, settings.geo.cache_dir)
    sector_index = SectorIndex.load(list(sectors))
    geocode = GeocodeActivities(
        gazetteer,
        sector_index,
        settings.geo.min_score,
        territory,
        book_threshold=options.book_threshold,
        confirm_threshold=options.confirm_threshold,
    )
    stt = SpeechEngine(settings.stt, catalogue, territory=territory)
    return EvalPipeline(
        stt,
        UnderstandActivities(catalogue, territory),
        geocode,
        catalogue,
        options,
        transcript_cache=transcript_cache,
    )
