"""The FAQ corpus: complete entries that fit 3 SMS, declared and required values."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from activities.retrieval.answer import render_answer_sms
from activities.retrieval.corpus import FaqCorpusError, load_entries, load_values, parse_entry
from domain.sms import GSM7, sms_info
from tests.activities.retrieval.common import FAQ_DIR, PHONE, SERVICE


def test_corpus_entries_are_complete_and_fit_three_sms() -> None:
    values = load_values(FAQ_DIR)
    entries = load_entries(FAQ_DIR, values)
    assert len(entries) >= 30
    assert len({e.id for e in entries}) == len(entries)
    topics = {e.topic for e in entries}
    assert {"objets refusés", "déchèteries", "rendez-vous", "données personnelles"} <= topics
    for entry in entries:
        assert entry.questions, entry.id
        assert "{{" not in entry.answer and "}}" not in entry.answer, entry.id
        text = render_answer_sms(entry.answer, SERVICE, PHONE)
        info = sms_info(text)
        assert info.segments <= 3, (entry.id, info)
        assert info.encoding == GSM7, entry.id
        assert entry.answer.split()[-1].rstrip(".") in text, f"{entry.id}: answer was cut"
        assert PHONE in text, entry.id


def test_configurable_values_are_declared_and_required(tmp_path: Path) -> None:
    (tmp_path / "x.md").write_text(
        "---\nid: x\ntopic: t\nlast_checked: 2026-11-01\nsource: s\nconfigurable: []\n---\n"
        "# Q ?\n\nAppelez le {{ agent_phone }}.\n",
        encoding="utf-8",
    )
    with pytest.raises(FaqCorpusError, match="configurable"):
        parse_entry(tmp_path / "x.md", {"agent_phone": "3010"})
    (tmp_path / "x.md").write_text(
        "---\nid: x\ntopic: t\nlast_checked: 2026-11-01\nsource: s\n"
        "configurable: [agent_phone]\n---\n# Q ?\n\nAppelez le {{ agent_phone }}.\n",
        encoding="utf-8",
    )
    with pytest.raises(FaqCorpusError, match="agent_phone"):
        parse_entry(tmp_path / "x.md", {})  # StrictUndefined: no SMS with a hole
    entry = parse_entry(tmp_path / "x.md", {"agent_phone": "3010"})
    assert entry.answer == "Appelez le 3010."


def test_values_overrides_reach_the_answers() -> None:
    values = load_values(FAQ_DIR, {"max_items": "4"})
    limit = next(e for e in load_entries(FAQ_DIR, values) if e.id == "limite-objets")
    assert limit.answer.startswith("Jusqu'à 4 objets")


def test_values_are_plain_strings() -> None:
    # Values are quoted into SMS as they are: strings, never numbers YAML would reformat.
    values = yaml.safe_load((FAQ_DIR / "values.yaml").read_text(encoding="utf-8"))
    assert values and all(isinstance(v, str) for v in values.values())
