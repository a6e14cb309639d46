"""One message: its sentences and its ground truth, by kind.

Kinds: booking · booking_callback (another number spoken) · question (FAQ topic or item) ·
question_booking (a pickup and a question) · cancel · refused_only (only refused items) ·
refused (a booking with a refused item, as in ../shared/voicemails) · outside (a commune
outside the métropole) · not_in_ban (an invented street in Marseille) · no_address.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from . import lexicon, templates
from .addresses import Placed, bookable_address, invented_address, outside_address
from .lexicon import ItemForm
from .spoken import phone_digits, phone_pairs
from .territory import Territory

# Fiction ranges reserved by ARCEP (06 39 98, 04 65 71, 01 99 00, 02 61 91, 03 53 01, 05 36 49).
FICTION_PREFIXES = ("+3363998",) * 4 + ("+3346571", "+3319900", "+3326191", "+3335301", "+3353649")

OUTCOMES = {
    "booking": "booked",
    "booking_callback": "booked",
    "question": "answered",
    "question_booking": "booked_and_answered",
    "cancel": "cancelled_or_escalated",
    "refused_only": "refused",
    "refused": "booked_partial_refusal",
    "outside": "out_of_territory",
    "not_in_ban": "escalated",
    "no_address": "escalated",
}
INTENTS = {"question": "question", "cancel": "cancel"}  # every other kind: booking


@dataclass
class Caller:
    name: str
    title: str
    number: str


@dataclass
class Message:
    kind: str
    caller: Caller
    sentences: list[str]
    phrasing: str
    callback: str = ""
    placed: Placed | None = None
    items: list[tuple[ItemForm, int]] = field(default_factory=list)
    refused: list[ItemForm] = field(default_factory=list)
    topic: str | None = None
    asked_item: str | None = None

    def expected(self) -> dict:
        address = self.placed.address if self.placed else None
        items: dict[str, int] = {}
        for form, n in self.items:
            items[form.item] = items.get(form.item, 0) + n
        return {
            "intent": INTENTS.get(self.kind, "booking"),
            "name": self.caller.name,
            "callback_number": self.callback or self.caller.number,
            "address": address.expected() if address else None,
            "sector": address.citycode if address else None,
            "items": [{"item": k, "count": v} for k, v in items.items()],
            "refused_items": sorted({f.item for f in self.refused}),
            "topic": self.topic,
            "asked_item": self.asked_item,
            "outcome": OUTCOMES[self.kind],
        }

    def entry(self, ident: str, received_at: str) -> dict:
        p = self.placed
        return {
            "id": ident,
            "audio": f"audio/{ident}.wav",
            "caller_number": self.caller.number,
            "received_at": received_at,
            "text": " ".join(self.sentences),
            "kind": self.kind,
            "expected": self.expected(),
            "phrasing": self.phrasing,
            "locality_form": p.locality_form if p else None,
            "territory": p.territory if p else None,
            "spoken_address": p.spoken if p else None,
            "homonyms": p.homonyms if p else [],
            "ban_extension": bool(p and p.in_extension),
        }


def fiction_number(rng: random.Random, avoid: str = "") -> str:
    while True:
        number = rng.choice(FICTION_PREFIXES) + f"{rng.randrange(10_000):04d}"
        if number != avoid:
            return number


def make_caller(rng: random.Random) -> Caller:
    female = rng.random() < 0.5
    first = rng.choice(lexicon.FIRST_NAMES_F if female else lexicon.FIRST_NAMES_M)
    return Caller(
        f"{first} {rng.choice(lexicon.LAST_NAMES)}",
        "madame" if female else "monsieur",
        fiction_number(rng),
    )


def pick_items(
    rng: random.Random, pool: tuple[ItemForm, ...] = lexicon.ACCEPTED, most: int = 3
) -> list[tuple[ItemForm, int]]:
    """1–`most` distinct catalogue items, each with a count (1 most often)."""
    k = rng.choice([n for n in (1, 1, 2, 2, 3) if n <= most])
    chosen: list[ItemForm] = []
    for form in rng.sample(pool, len(pool)):
        if form.item not in {f.item for f in chosen}:
            chosen.append(form)
        if len(chosen) == k:
            break
    return [(f, rng.choice((1, 1, 1, 1, 2, 2, 3))) for f in chosen]


def request_sentence(items: list[tuple[ItemForm, int]], rng: random.Random) -> str:
    template = rng.choice(lexicon.REQUESTS)
    return template.format(
        items=templates.items_phrase(items), de_items=templates.items_phrase(items, de=True)
    )


def callback_sentence(number: str, rng: random.Random) -> str:
    spoken = phone_pairs(number) if rng.random() < 0.8 else phone_digits(number)
    return rng.choice(lexicon.CALLBACKS).format(phone=spoken)


def assemble(
    m: Message, address: str | None, request: str, rng: random.Random, extra: list[str] = ()
) -> None:
    """Greeting and name, the address (before or after the request), the request, the
    callback number, extra sentences, closing; the name sometimes comes last."""
    name_last = rng.random() < 0.25
    head = (
        [rng.choice(lexicon.GREETINGS) + "."]
        if name_last
        else [templates.intro(m.caller.name, m.caller.title, rng)]
    )
    body = [request]
    if address:
        body = [request, address] if m.phrasing == "address_last" else [address, request]
    if m.callback:
        cb = callback_sentence(m.callback, rng)
        body = [cb, *body] if rng.random() < 0.3 else [*body, cb]
    closing = rng.choice(lexicon.CLOSINGS)
    if name_last:
        closing = f"{closing.rstrip('.')}, c'était {m.caller.name}."
    m.sentences = [*head, *body, *extra, closing]


def build_message(kind: str, phrasing: str, territory: Territory, rng: random.Random) -> Message:
    m = Message(kind, make_caller(rng), [], phrasing)
    if kind == "question":
        return _question(m, rng)
    if kind == "cancel":
        return _cancel(m, territory, rng)
    if kind == "no_address":
        m.items = pick_items(rng)
        if rng.random() < 0.5:
            m.callback = fiction_number(rng, m.caller.number)
        tail = rng.choice(("Rappelez-moi pour le rendez-vous.", "Vous pouvez me rappeler ?", ""))
        assemble(m, None, request_sentence(m.items, rng), rng, [tail] if tail else [])
        return m
    if kind == "outside":
        m.placed = outside_address(phrasing, territory, rng)
    elif kind == "not_in_ban":
        m.placed = invented_address(phrasing, territory, rng)
    else:
        m.placed = bookable_address(phrasing, territory, rng)
    address = templates.address_sentence(m.placed.said, phrasing, rng)
    if kind == "refused_only":
        m.refused = [f for f, _ in pick_items(rng, lexicon.REFUSED, most=2)]
        counts = [(f, rng.choice((1, 2, 4))) for f in m.refused]
        request = rng.choice(lexicon.REFUSED_ONLY_REQUESTS).format(
            items=templates.items_phrase(counts)
        )
        assemble(m, address, request, rng)
        return m
    m.items = pick_items(rng)
    spoken_items = list(m.items)
    if kind == "refused":
        form = rng.choice(lexicon.REFUSED)
        m.refused = [form]
        spoken_items.insert(rng.randrange(len(spoken_items) + 1), (form, rng.choice((1, 2, 4))))
    if kind == "booking_callback":
        m.callback = fiction_number(rng, m.caller.number)
    extra = []
    if kind == "question_booking":
        extra = [_side_question(m, rng)]
    assemble(m, address, request_sentence(spoken_items, rng), rng, extra)
    return m


def _question(m: Message, rng: random.Random) -> Message:
    if rng.random() < 0.6:
        m.topic = rng.choice(sorted(lexicon.QUESTIONS))
        question = rng.choice(lexicon.QUESTIONS[m.topic])
    else:
        question = _item_question(m, rng)
    m.sentences = [
        templates.intro(m.caller.name, m.caller.title, rng),
        question,
        rng.choice(lexicon.CLOSINGS),
    ]
    return m


def _item_question(m: Message, rng: random.Random) -> str:
    refused = rng.random() < 0.6
    form = rng.choice(lexicon.REFUSED if refused else lexicon.ACCEPTED)
    m.topic = lexicon.REFUSED_TOPIC[form.item] if refused else lexicon.ACCEPTED_TOPIC
    m.asked_item = form.item
    return templates.item_question(form, rng)


def _side_question(m: Message, rng: random.Random) -> str:
    lead = rng.choice(lexicon.QUESTION_LEADS)
    if rng.random() < 0.5:
        question = _item_question(m, rng)
    else:
        m.topic = rng.choice(lexicon.SIDE_QUESTIONS)
        question = rng.choice(lexicon.QUESTIONS[m.topic])
    if lead.endswith(","):
        return f"{lead} {question[0].lower()}{question[1:]}"
    return f"{lead} {question}"


def _cancel(m: Message, territory: Territory, rng: random.Random) -> Message:
    intro = templates.intro(m.caller.name, m.caller.title, rng)
    if m.phrasing == "cancel_address":
        m.placed = bookable_address("habite_au", territory, rng)
        said = m.placed.said
        where = f"au {said.said_number} {templates.street_said(said.street)}{said.locality}"
        sentence = rng.choice(
            (
                "J'avais pris rendez-vous pour des encombrants {w}, mais je voudrais annuler, "
                "je n'en ai plus besoin.",
                "Je voudrais annuler le rendez-vous pour le passage {w}, j'ai trouvé une autre "
                "solution.",
            )
        ).format(w=where)
    else:
        ref = rng.choice(lexicon.CANCEL_REFS)
        sentence = f"Je voudrais annuler {ref}, je me suis débarrassé des meubles autrement."
    m.sentences = [intro, sentence, rng.choice(lexicon.CLOSINGS)]
    return m
