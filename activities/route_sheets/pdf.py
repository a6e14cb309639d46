"""The route sheet as PDF, with fpdf2 (pure Python, no system library): the header with the load
against the capacity, the map (the same SVG as the HTML sheet) and the table of pickups in route
order. The core PDF fonts cover Latin-1, which French needs; the few characters outside it
(œ, ’, —) are written with their usual equivalents."""

from __future__ import annotations

import io
from datetime import datetime

from fpdf import FPDF

from domain.labels import date_label, items_label
from domain.route_map import route_svg
from domain.route_sheets import SectorSheet

_FOLD = str.maketrans({"œ": "oe", "Œ": "OE", "’": "'", "—": "-", "–": "-", "…": "...", "☐": ""})
_COLUMNS = (("n°", 9), ("Réf.", 18), ("Adresse", 62), ("Objets", 62), ("Nb", 9), ("Fait", 10))


def _latin1(text: str) -> str:
    return text.translate(_FOLD).encode("latin-1", "replace").decode("latin-1")


def sheet_pdf(sheet: SectorSheet, generated: datetime) -> bytes:
    pdf = FPDF(format="A4")
    pdf.set_margins(12, 12, 12)
    pdf.set_auto_page_break(True, margin=12)
    pdf.set_title(_latin1(f"Tournée {sheet.sector} {sheet.day.isoformat()}"))
    pdf.add_page()
    name = f" ({sheet.name})" if sheet.name else ""
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(
        0,
        8,
        _latin1(f"Tournée encombrants - secteur {sheet.sector}{name}"),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.set_font("Helvetica", "", 10)
    load = f"{sheet.used} / {sheet.capacity} enlèvements ({sheet.load_percent} %)"
    pdf.cell(
        0,
        6,
        _latin1(
            f"{date_label(sheet.day.isoformat()).capitalize()} - {load} - "
            f"{sheet.total_items} objets - édité le {generated:%d/%m/%Y %H:%M}"
        ),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    if sheet.over_capacity:
        pdf.set_text_color(176, 0, 32)
        pdf.cell(
            0,
            6,
            _latin1("Attention : plus d'enlèvements que de places prévues."),
            new_x="LMARGIN",
            new_y="NEXT",
        )
        pdf.set_text_color(0, 0, 0)
    svg = route_svg(sheet)
    if svg:
        pdf.image(io.BytesIO(svg.encode("utf-8")), w=150, x=30)
        pdf.ln(2)
    _table(pdf, sheet)
    pdf.set_font("Helvetica", "I", 8)
    pdf.multi_cell(0, 4, _latin1("Document interne : adresses des habitants, à ne pas diffuser."))
    return bytes(pdf.output())


def _table(pdf: FPDF, sheet: SectorSheet) -> None:
    if not sheet.stops:
        pdf.set_font("Helvetica", "I", 11)
        pdf.cell(
            0,
            10,
            _latin1("Aucun enlèvement prévu ce jour dans ce secteur."),
            new_x="LMARGIN",
            new_y="NEXT",
        )
        return
    pdf.set_font("Helvetica", "", 9)
    headings = [h for h, _ in _COLUMNS]
    widths = [w for _, w in _COLUMNS]
    with pdf.table(col_widths=widths, line_height=5, repeat_headings=1) as table:
        row = table.row()
        for heading in headings:
            row.cell(_latin1(heading))
        for n, stop in enumerate(sheet.stops, start=1):
            row = table.row()
            row.cell(str(n))
            row.cell(stop.reference)
            row.cell(_latin1(f"{stop.address}\n{stop.postcode} {stop.city}"))
            objects = items_label(stop.items)
            if sheet.with_numbers and stop.caller_number:
                objects += f"\nTél. {stop.caller_number}"
            row.cell(_latin1(objects))
            row.cell(str(stop.item_count))
            row.cell("")
        row = table.row()
        row.cell(
            _latin1(f"Total : {sheet.used} enlèvements sur {sheet.capacity} places"), colspan=4
        )
        row.cell(str(sheet.total_items))
        row.cell("")
