"""A route sheet written out: CSV (one row per pickup, in route order), printable HTML (jinja2,
French, corpus/templates/sheets) with the map drawn as SVG, and PDF (fpdf2, pure Python: the
table and the same map). Files are written atomically (temporary file, then rename) and readable
by their owner and group only: they hold the callers' addresses."""

from __future__ import annotations

import csv
import io
import os
import uuid
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from corpus import TEMPLATES_DIR
from domain.labels import date_label, items_label
from domain.route_map import route_svg
from domain.route_sheets import (
    SUMMARY_FIELDS,
    SectorSheet,
    csv_fields,
    csv_rows,
    summary_row,
)

SHEETS_TEMPLATES = TEMPLATES_DIR / "sheets"
FILE_MODE = 0o640


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(SHEETS_TEMPLATES),
        undefined=StrictUndefined,
        autoescape=select_autoescape(["html", "j2"]),
        keep_trailing_newline=True,
    )
    env.globals["items_label"] = items_label
    return env


_ENV = _environment()


def sheet_csv(sheet: SectorSheet) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=csv_fields(sheet.with_numbers), lineterminator="\n")
    writer.writeheader()
    writer.writerows(csv_rows(sheet))
    return out.getvalue()


def summary_csv(sheets: Sequence[SectorSheet]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=SUMMARY_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(summary_row(s) for s in sheets)
    return out.getvalue()


def sheet_html(sheet: SectorSheet, generated: datetime) -> str:
    totals = ", ".join(f"{i.count} × {i.item}" for i in sheet.items_by_kind())
    return _ENV.get_template("route_sheet.html.j2").render(
        sheet=sheet,
        day_label=date_label(sheet.day.isoformat()),
        totals=totals,
        map_svg=route_svg(sheet),
        generated=generated.strftime("%d/%m/%Y %H:%M"),
    )


def file_stem(sheet: SectorSheet) -> str:
    return f"tournee-{sheet.day.isoformat()}-{sheet.sector}"


def write_private(path: Path, data: bytes) -> None:
    """Write `path` atomically with mode 0640 (a reader never sees half a sheet)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
