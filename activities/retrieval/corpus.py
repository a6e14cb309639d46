"""The FAQ corpus (`corpus/faq`): one Markdown entry per question, with front matter, whose
answer quotes configurable values (`values.yaml`, overridable in the settings)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import jinja2
import yaml

# The two kinds of indexed documents: one per entry, one per way of asking it.
ENTRY, QUESTION = "entry", "question"


@dataclass(frozen=True)
class FaqEntry:
    id: str
    topic: str
    question: str  # the heading
    questions: tuple[str, ...]  # other ways of asking
    keywords: tuple[str, ...]
    answer: str  # rendered (values filled in): the SMS paragraph
    details: str = ""
    last_checked: str = ""
    source: str = ""
    configurable: tuple[str, ...] = ()

    @property
    def all_questions(self) -> tuple[str, ...]:
        return (self.question, *self.questions)

    def search_text(self) -> str:
        """What BM25 indexes: every way of asking, the words callers use, the answer."""
        parts = [*self.all_questions, " ".join(self.keywords), self.answer, self.details]
        return "\n".join(p for p in parts if p)

    def passage(self) -> str:
        """What the entry's e5 passage embedding encodes."""
        return " ".join([*self.all_questions, self.answer])


class FaqCorpusError(ValueError):
    pass


_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n(.*)\Z", re.S)
_HEADING = re.compile(r"^# (.+)$", re.M)
_SECTION = re.compile(r"^## .+$", re.M)


def load_values(corpus_dir: Path, overrides: dict[str, str] | None = None) -> dict[str, str]:
    """The configurable values the answers quote: corpus_dir/values.yaml, then overrides."""
    path = Path(corpus_dir) / "values.yaml"
    values: dict[str, str] = {}
    if path.exists():
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        values = {str(k): str(v) for k, v in raw.items()}
    values.update({k: str(v) for k, v in (overrides or {}).items()})
    return values


def parse_entry(path: Path, values: dict[str, str]) -> FaqEntry:
    text = Path(path).read_text(encoding="utf-8")
    m = _FRONT_MATTER.match(text)
    if not m:
        raise FaqCorpusError(f"{path}: no front matter (--- ... ---)")
    meta = yaml.safe_load(m.group(1)) or {}
    body = m.group(2)
    for key in ("id", "topic", "last_checked", "source"):
        if not meta.get(key):
            raise FaqCorpusError(f"{path}: missing {key!r}")
    entry_id = str(meta["id"])
    if entry_id != Path(path).stem:
        raise FaqCorpusError(f"{path}: id {entry_id!r} differs from the file name")
    configurable = tuple(str(v) for v in meta.get("configurable") or ())
    # StrictUndefined: a value missing from values.yaml is an error at indexing time, never
    # an SMS with a hole in it.
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
    try:
        used = {v for v in re.findall(r"\{\{\s*(\w+)\s*\}\}", body)}
        rendered = env.from_string(body).render(**values)
    except jinja2.TemplateError as err:
        raise FaqCorpusError(f"{path}: {err}") from None
    undeclared = used - set(configurable)
    if undeclared:
        raise FaqCorpusError(f"{path}: values used but not in 'configurable': {undeclared}")
    heading = _HEADING.search(rendered)
    if not heading:
        raise FaqCorpusError(f"{path}: no '# question' heading")
    rest = rendered[heading.end() :]
    section = _SECTION.search(rest)
    answer_part, details = (
        (rest[: section.start()], rest[section.end() :]) if section else (rest, "")
    )
    answer = " ".join(answer_part.split())
    if not answer:
        raise FaqCorpusError(f"{path}: empty answer")
    return FaqEntry(
        id=entry_id,
        topic=str(meta["topic"]),
        question=heading.group(1).strip(),
        questions=tuple(str(q) for q in meta.get("questions") or ()),
        keywords=tuple(str(k) for k in meta.get("keywords") or ()),
        answer=answer,
        details=" ".join(details.split()),
        last_checked=str(meta["last_checked"]),
        source=str(meta["source"]),
        configurable=configurable,
    )


def entry_paths(corpus_dir: Path) -> list[Path]:
    """The entry files: *.md but README.md and files starting with "_"."""
    return sorted(
        p
        for p in Path(corpus_dir).glob("*.md")
        if p.name != "README.md" and not p.name.startswith("_")
    )


def load_entries(corpus_dir: Path, values: dict[str, str]) -> list[FaqEntry]:
    entries = [parse_entry(p, values) for p in entry_paths(corpus_dir)]
    if not entries:
        raise FaqCorpusError(f"no FAQ entry in {corpus_dir}")
    return entries
