"""`encombot bookings list | sheet | export`: the crews' route sheets from a terminal, read from
the booking database (ENCOMBOT_BOOKING__DATABASE_URL): the pickups of a day per sector in route
order with the load against capacity (table, CSV or JSON), the printable sheets (HTML, PDF), and
the daily export run by hand (the Schedule `encombot-route-sheets` runs it at the cut-off)."""

from __future__ import annotations

import csv
import io
import json
import sys
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from workers.cli.context import cli_settings
from workers.settings import Settings

if TYPE_CHECKING:
    from activities.bookings.store import BookingStore
    from domain.route_sheets import SectorSheet

bookings_app = typer.Typer(
    help="Réservations : listes et feuilles de route des équipes.", no_args_is_help=True
)
console = Console()


class Format(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        console.print(f"[red]erreur[/] : date invalide {text!r} (AAAA-MM-JJ)", highlight=False)
        raise typer.Exit(2) from None


def _store(settings: Settings) -> BookingStore:
    from activities.bookings.calendar_file import load_calendar
    from activities.bookings.engine import make_engine
    from activities.bookings.store import BookingStore

    try:
        store = BookingStore(
            make_engine(settings.booking.database_url),
            load_calendar(settings.booking.calendar_file),
        )
        store.create_schema()
    except Exception as exc:
        console.print(f"[red]erreur[/] : base des réservations : {exc}", highlight=False)
        raise typer.Exit(2) from None
    return store


def _sheets(settings: Settings, day: date, sector: str) -> list[SectorSheet]:
    from activities.route_sheets.build import sheets_for

    store = _store(settings)
    return sheets_for(store.engine, store.calendar, day, settings.route_sheets, sector=sector)


@bookings_app.command("list")
def list_command(
    ctx: typer.Context,
    day: Annotated[str, typer.Option("--date", help="le jour de collecte, AAAA-MM-JJ")],
    sector: Annotated[str, typer.Option(help="ce secteur seulement, ex. 13205")] = "",
    fmt: Annotated[Format, typer.Option("--format", help="table, csv ou json")] = Format.TABLE,
) -> None:
    """Les enlèvements d'un jour, par secteur, dans l'ordre de la tournée, avec la charge du
    secteur face à sa capacité. Le numéro de l'appelant n'y figure que si le service le garde
    (ENCOMBOT_ROUTE_SHEETS__INCLUDE_CALLER_NUMBER)."""
    from domain.route_sheets import csv_fields, csv_rows

    settings = cli_settings(ctx)
    sheets = _sheets(settings, _day(day), sector)
    if fmt == Format.JSON:
        print(json.dumps([_sheet_json(s) for s in sheets], ensure_ascii=False, indent=2))
        return
    if fmt == Format.CSV:
        with_numbers = settings.route_sheets.include_caller_number
        out = io.StringIO()
        writer = csv.DictWriter(
            out, fieldnames=("secteur", *csv_fields(with_numbers)), lineterminator="\n"
        )
        writer.writeheader()
        for sheet in sheets:
            writer.writerows({"secteur": sheet.sector, **row} for row in csv_rows(sheet))
        sys.stdout.write(out.getvalue())
        return
    if not sheets:
        console.print(f"Aucun enlèvement le {day}{f' dans le secteur {sector}' if sector else ''}.")
    for sheet in sheets:
        _print_table(sheet)


def _sheet_json(sheet: SectorSheet) -> dict[str, object]:
    from domain.route_sheets import csv_rows

    return {
        "date": sheet.day.isoformat(),
        "secteur": sheet.sector,
        "nom": sheet.name,
        "enlevements": sheet.used,
        "capacite": sheet.capacity,
        "objets": sheet.total_items,
        "charge_pct": sheet.load_percent,
        "arrets": csv_rows(sheet),
    }


def _print_table(sheet: SectorSheet) -> None:
    from domain.labels import items_label

    over = " [red]DÉPASSEMENT[/]" if sheet.over_capacity else ""
    title = (
        f"Secteur {sheet.sector} {sheet.name} — {sheet.day.isoformat()} — "
        f"{sheet.used}/{sheet.capacity} enlèvements, {sheet.total_items} objets{over}"
    )
    table = Table(title=title)
    columns = ["n°", "réf.", "adresse", "objets", "nb"]
    if sheet.with_numbers:
        columns.append("téléphone")
    for col in columns:
        table.add_column(col, overflow="fold")
    for n, stop in enumerate(sheet.stops, start=1):
        row = [
            str(n),
            stop.reference,
            f"{stop.address}, {stop.postcode} {stop.city}",
            items_label(stop.items),
            str(stop.item_count),
        ]
        if sheet.with_numbers:
            row.append(stop.caller_number)
        table.add_row(*row)
    console.print(table)


@bookings_app.command("sheet")
def sheet_command(
    ctx: typer.Context,
    day: Annotated[str, typer.Option("--date", help="le jour de collecte, AAAA-MM-JJ")],
    out: Annotated[Path, typer.Option(help="le dossier où écrire les feuilles")],
    sector: Annotated[str, typer.Option(help="ce secteur seulement")] = "",
) -> None:
    """Les feuilles de route imprimables (HTML, et PDF sauf ENCOMBOT_ROUTE_SHEETS__PDF=false)
    et le CSV de chaque secteur, avec la carte de la tournée, dans OUT."""
    from activities.route_sheets.export import RouteSheetActivities

    settings = cli_settings(ctx)
    store = _store(settings)
    rs = settings.route_sheets.model_copy(update={"output_dir": out})
    when = _day(day)
    sheets = _sheets(settings, when, sector)
    written = RouteSheetActivities(store, rs).write_day(when, sheets, datetime.now(UTC))
    for name in written:
        console.print(str(out / name), highlight=False)


@bookings_app.command("export")
def export_command(
    ctx: typer.Context,
    day: Annotated[
        str, typer.Option("--date", help="ce jour-là plutôt que ceux arrêtés maintenant")
    ] = "",
    sector: Annotated[str, typer.Option(help="ce secteur seulement")] = "",
) -> None:
    """L'export quotidien, maintenant : les tournées arrêtées à cette heure (ou celles du
    jour --date), dans ENCOMBOT_ROUTE_SHEETS__OUTPUT_DIR."""
    from activities.route_sheets.export import RouteSheetActivities
    from domain.route_sheets import RouteSheetExportInput

    settings = cli_settings(ctx)
    if day:
        _day(day)
    activities = RouteSheetActivities(_store(settings), settings.route_sheets)
    result = activities.export_route_sheets(RouteSheetExportInput(day=day, sector=sector))
    for summary in result.sheets:
        console.print(
            f"{summary.day} secteur {summary.sector} : {summary.pickups}/{summary.capacity} "
            f"enlèvements, {summary.items} objets",
            highlight=False,
        )
    if not result.sheets:
        console.print("Aucune tournée arrêtée à cette heure (rien à écrire).")
    console.print(f"{len(result.files)} fichier(s) dans {settings.route_sheets.output_dir}")
