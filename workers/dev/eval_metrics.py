"""`encombot eval`'s metrics: the predictions of a voicemail set against what each voicemail
expects (intent, address, sector, items, caller's name, callback number), and the decisions'
costs."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz

from domain import geotext
from domain.catalogue import Catalogue
from domain.decision import DecisionKind
from domain.models import Intent
from domain.phone import to_e164
from domain.stats import percentile

AUTOMATIC = frozenset({DecisionKind.BOOK.value})
# The decisions counted per kind of message (here and by bench/calibrate_folds.py).
PER_KIND_COLUMNS = ("messages", "booked", "sms", "address_asked", "escalated", "wrong_automatic")
# The expected outcome of a message with a pickup and a question (scripts/corpus).
BOOKED_AND_ANSWERED = "booked_and_answered"


def same_street(a: str, b: str) -> bool:
    return bool(a) and bool(b) and geotext.fold(a) == geotext.fold(b)


def same_number(a: str, b: str) -> bool:
    pa, pb = geotext.parse_housenumber(a or ""), geotext.parse_housenumber(b or "")
    return pa is not None and pa == pb


def offer_matches(offer: dict[str, str], exp: dict[str, Any], expected: dict[str, Any]) -> bool:
    """An address offered is the expected one: street, house number and sector."""
    return (
        same_street(offer.get("street", ""), exp.get("street", ""))
        and same_number(offer.get("housenumber", ""), exp.get("housenumber", ""))
        and offer.get("sector") == expected.get("sector")
    )


# How alike the name heard and the expected name must be (rapidfuzz, 0..100, on accent- and
# case-folded names without civility). Measured on the set's names: one sound or letter slipped
# (Giraud/Girault 89, Garcia/Garsia 92, Aubert/Obert 87) passes; another first name (Mehdi /
# Nadia Amrani 75), another surname (Marie Fabre / Bonnet 70) or half the name (Yacine for
# Yacine Giraud 63, Amrani for Nathalie Amrani 57) does not. A near-homophone surname
# (Giraud/Girard 93) passes: a person reading the case would take it for the same caller.
NAME_MATCH_MIN = 80.0
_CIVILITY_WORDS = frozenset({"madame", "mme", "monsieur", "m", "mr", "mademoiselle", "mlle"})


def _name_key(name: str) -> str:
    return " ".join(w for w in geotext.fold(name).split() if w not in _CIVILITY_WORDS)


def same_name(heard: str, expected: str) -> bool:
    """The name heard is the caller's: in the order said (ratio) or in another order
    (token_sort_ratio, "Giraud Yacine"), at NAME_MATCH_MIN or above. One word heard is
    compared with the surname: callers often give only that ("ici madame Amrani"), and the
    sets expect the full name; a first name alone ("Nadia") is not the caller's name."""
    a, b = _name_key(heard), _name_key(expected)
    if not a or not b:
        return False
    if len(a.split()) == 1:
        b = b.split()[-1]
    score = max(fuzz.ratio(a, b), fuzz.token_sort_ratio(a, b))
    return score >= NAME_MATCH_MIN


def mean(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return round(statistics.mean(kept), 3) if kept else None


def _canonical_items(
    items: Iterable[dict[str, Any]] | None, catalogue: Catalogue
) -> dict[str, int]:
    out: dict[str, int] = {}
    for entry in items or []:
        found = catalogue.get(str(entry["item"]))
        name = found.name if found is not None else str(entry["item"])
        out[name] = out.get(name, 0) + int(entry.get("count", 1))
    return out


@dataclass
class _Counts:
    """What compute_metrics counts over the set (the numerators of its rates)."""

    intent_ok: int = 0
    booking: int = 0
    addr: int = 0
    street: int = 0
    number: int = 0
    sector: int = 0
    offered_ok: int = 0
    callback_ok: int = 0
    named: int = 0  # messages whose expectation names the caller
    name_ok: int = 0
    two_requests: int = 0  # messages that ask for a pickup and a question (expected outcome)
    both_heard: int = 0  # … understood as a booking with its side question
    tp: int = 0
    fp: int = 0
    fn: int = 0
    escalations: int = 0
    sms: int = 0
    asked: int = 0  # addresses asked by SMS (none heard, or a street without its number)
    wrong_auto: int = 0
    # kind of message (the set's `kind`, else the expected intent) → its decision counts
    per_kind: dict[str, dict[str, int]] = field(default_factory=dict)
    decisions: dict[str, int] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)

    def add_items(self, want: dict[str, int], got: dict[str, int]) -> None:
        for name in set(want) | set(got):
            common = min(want.get(name, 0), got.get(name, 0))
            self.tp += common
            self.fp += got.get(name, 0) - common
            self.fn += want.get(name, 0) - common


def _count_voicemail(
    counts: _Counts,
    entry: dict[str, Any],
    pred: dict[str, Any],
    catalogue: Catalogue,
    detail: dict[str, Any],
) -> None:
    """One voicemail's prediction against its expectation: into the counts and a row."""
    exp = entry.get("expected") or {}
    decision = str(pred.get("decision", ""))
    counts.decisions[decision] = counts.decisions.get(decision, 0) + 1
    if pred.get("intent") == exp.get("intent"):
        counts.intent_ok += 1
    expected_cb = to_e164(str(exp.get("callback_number") or "")) or exp.get("callback_number")
    callback_ok = bool(expected_cb) and pred.get("callback_number") == expected_cb
    counts.callback_ok += callback_ok
    expected_name = str(exp.get("name") or "")
    name_ok = same_name(str(pred.get("caller_name") or ""), expected_name)
    if expected_name:
        counts.named += 1
        counts.name_ok += name_ok
    counts.add_items(
        _canonical_items(exp.get("items"), catalogue),
        _canonical_items(pred.get("items"), catalogue),
    )
    if exp.get("outcome") == BOOKED_AND_ANSWERED:
        counts.two_requests += 1
        counts.both_heard += pred.get("intent") == Intent.BOOKING.value and bool(
            pred.get("question")
        )
    if decision == DecisionKind.ESCALATE.value:
        counts.escalations += 1
    if decision == DecisionKind.CONFIRM_BY_SMS.value:
        counts.sms += 1
    if decision == DecisionKind.ASK_ADDRESS.value:
        counts.asked += 1
    pa = pred.get("address") or {}
    ea = exp.get("address") or {}
    ok_street = same_street(pa.get("street", ""), ea.get("street", ""))
    ok_number = same_number(pa.get("housenumber", ""), ea.get("housenumber", ""))
    ok_sector = bool(pred.get("sector")) and pred.get("sector") == exp.get("sector")
    full = ok_street and ok_number and ok_sector
    is_booking = exp.get("intent") == Intent.BOOKING.value
    if is_booking:
        counts.booking += 1
        counts.addr += full
        counts.street += ok_street
        counts.number += ok_number
        counts.sector += ok_sector
        offered = detail.get("offered_full") or []
        counts.offered_ok += full or any(offered)
    wrong = decision in AUTOMATIC and not (is_booking and full)
    if wrong:
        counts.wrong_auto += 1
    kind = str(entry.get("kind") or exp.get("intent") or "?")
    row = counts.per_kind.setdefault(kind, dict.fromkeys(PER_KIND_COLUMNS, 0))
    row["messages"] += 1
    row["booked"] += decision == DecisionKind.BOOK.value
    row["sms"] += decision == DecisionKind.CONFIRM_BY_SMS.value
    row["address_asked"] += decision == DecisionKind.ASK_ADDRESS.value
    row["escalated"] += decision == DecisionKind.ESCALATE.value
    row["wrong_automatic"] += wrong
    counts.rows.append(
        {
            "id": str(entry["id"]),
            "intent": pred.get("intent", ""),
            "expected_intent": exp.get("intent", ""),
            "decision": decision,
            "address": " ".join(x for x in (pa.get("housenumber", ""), pa.get("street", "")) if x),
            "expected_address": " ".join(
                x for x in (ea.get("housenumber", ""), ea.get("street", "")) if x
            ),
            "sector": pred.get("sector", ""),
            "expected_sector": exp.get("sector", "") or "",
            "address_ok": full if is_booking else None,
            "caller_name": pred.get("caller_name", ""),
            "expected_name": expected_name,
            "name_ok": name_ok if expected_name else None,
            "callback_number": pred.get("callback_number", ""),
            "expected_callback_number": expected_cb or "",
            "callback_ok": callback_ok if expected_cb else None,
            "confidence": pred.get("confidence", 0.0),
        }
    )


def _rate(k: int, total: int) -> float:
    return round(k / total, 4) if total else 0.0


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
    - caller's name right: over messages whose expectation names the caller, the name heard
      matches it (`same_name`: fuzzy, accent- and case-insensitive, civility ignored);
    - callback number right: over all messages, the E.164 number equals the expected one;
    - both requests heard: over messages with a pickup and a question (expected outcome
      "booked_and_answered"), understood as a booking that records its side question;
    - wrong automatic decisions: `book` with a wrong address or sector, or for a message that
      is not a booking, over all messages;
    - escalation rate: `escalate` decisions over all messages (`confirm_by_sms` is not one);
    - SMS confirmation rate: `confirm_by_sms` decisions over all messages;
    - address asked rate: `ask_address` decisions (a booking with no address heard, or a
      street heard without its number: the caller texted for it) over all messages: neither
      an escalation nor a confirmation until the caller answers (the reply is a new text,
      not in the set); with the
      escalations, the worst case (`escalation_or_asked_rate`: no caller answers);
    - per kind (the set's `kind` of message, else its expected intent): messages, booked,
      confirmed by SMS, address asked, escalated, wrong automatic decisions.
    """
    by_id = {str(p["id"]): p for p in predictions}
    detail_by_id = {str(d.get("id")): d for d in details}
    counts = _Counts()
    for entry in entries:
        vid = str(entry["id"])
        _count_voicemail(counts, entry, by_id.get(vid) or {}, catalogue, detail_by_id.get(vid, {}))
    n, booking = len(entries), counts.booking
    tp, fp, fn = counts.tp, counts.fp, counts.fn
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    stt = [s for s in stt_seconds if s is not None]
    return {
        "messages": n,
        "booking_messages": booking,
        "intent_accuracy": _rate(counts.intent_ok, n),
        "address_fully_right": _rate(counts.addr, booking),
        "street_right": _rate(counts.street, booking),
        "number_right": _rate(counts.number, booking),
        "sector_right": _rate(counts.sector, booking),
        "address_right_or_offered": _rate(counts.offered_ok, booking),
        "items_f1": round(f1, 4),
        "items_precision": round(precision, 4),
        "items_recall": round(recall, 4),
        "caller_name_right": _rate(counts.name_ok, counts.named),
        "callback_number_right": _rate(counts.callback_ok, n),
        "two_request_messages": counts.two_requests,
        "both_requests_heard": _rate(counts.both_heard, counts.two_requests),
        "escalation_rate": _rate(counts.escalations, n),
        "sms_confirmation_rate": _rate(counts.sms, n),
        "address_asked_rate": _rate(counts.asked, n),
        # The worst case: every caller asked for the address leaves it unanswered.
        "escalation_or_asked_rate": _rate(counts.escalations + counts.asked, n),
        "wrong_automatic_decisions": _rate(counts.wrong_auto, n),
        "wrong_automatic_count": counts.wrong_auto,
        "decisions": dict(sorted(counts.decisions.items())),
        "per_kind": dict(sorted(counts.per_kind.items())),
        "transcription_s_mean": round(statistics.mean(stt), 3) if stt else None,
        "transcription_s_p95": round(percentile(stt, 0.95), 3) if stt else None,
        "rows": counts.rows,
    }
