"""RouteSheetExportWorkflow: the crews' route sheets, written daily at the cut-off (started by
the `encombot-route-sheets` Temporal Schedule, or by hand for one day).

The moment of the run comes from the workflow clock (or the input), so a retried activity
publishes the same rounds. The current details say what was written, in counts only (the
sheets themselves hold addresses: they are files for the crews, never workflow text)."""

from __future__ import annotations

from temporalio import workflow

from workflows import calls

with workflow.unsafe.imports_passed_through():
    from domain import names
    from domain.route_sheets import RouteSheetExportInput, RouteSheetExportResult


@workflow.defn(name=names.ROUTE_SHEETS_WORKFLOW)
class RouteSheetExportWorkflow:
    @workflow.run
    async def run(self, inp: RouteSheetExportInput) -> RouteSheetExportResult:
        now = inp.now or workflow.now().isoformat()
        result = await calls.EXPORT_ROUTE_SHEETS(
            RouteSheetExportInput(now=now, day=inp.day, sector=inp.sector)
        )
        lines = [
            f"Feuilles de route : {len(result.sheets)} secteur(s), {len(result.files)} fichier(s)."
        ]
        for summary in result.sheets:
            lines.append(
                f"- {summary.day} secteur {summary.sector} : {summary.pickups}/"
                f"{summary.capacity} enlèvements, {summary.items} objets"
            )
        if not result.sheets:
            lines.append("Aucune tournée arrêtée à cette heure.")
        workflow.set_current_details("\n".join(lines))
        workflow.logger.info(
            "route sheets: %d sheet(s) for %s", len(result.sheets), ", ".join(result.days) or "-"
        )
        return result
