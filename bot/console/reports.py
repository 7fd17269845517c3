"""Supervisors' monthly report in the console: ``/console/report?month=YYYY-MM``
(the same report as ``python -m bot report``) and ``/console/report.csv`` (the
month's records, masked, for Excel). Counsellors get 403: the export holds
every consultation of the month, which is a supervisor's to share.

Both are audit-logged (bot.console.audit): who looked at or took out which month.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Blueprint, Flask, Response, current_app, render_template, request
from flask.typing import ResponseReturnValue

from bot.console.audit import record_action
from bot.console.auth import role_required
from bot.records import export, html
from bot.records.output import build, hotline_namer
from bot.records.report import is_month, minutes

if TYPE_CHECKING:
    from bot.runtime import Runtime

#: app.extensions key of the runtime the reports read (given by bot.web.create_app).
REPORTS_EXTENSION = "netsoudan.console.reports"

bp = Blueprint("reports", __name__, template_folder="../records/templates",
               static_folder="../records/static", static_url_path="/console/report-static")


def init_app(app: Flask, runtime: "Runtime") -> None:
    """The report's pages, reading the records of ``runtime`` (kept here, as auth and audit do)."""
    app.extensions[REPORTS_EXTENSION] = runtime
    app.register_blueprint(bp)
    app.add_template_filter(minutes, "minutes")  # the report body's times, as in the standalone file


def _runtime() -> "Runtime":
    return current_app.extensions[REPORTS_EXTENSION]


def _month() -> str | None:
    """?month=YYYY-MM, this month (by the runtime's clock) when absent; None when malformed."""
    value = request.args.get("month") or _runtime().clock().strftime("%Y-%m")
    return value if is_month(value) else None


def _records(month: str):
    runtime = _runtime()
    return runtime, runtime.records.month(month)


@bp.get("/console/report")
@role_required("supervisor")
def page() -> ResponseReturnValue:
    month = _month()
    if month is None:
        return render_template("console/base.html", message="月は 2026-11 のように指定してください。"), 400
    runtime, records = _records(month)
    made = build(month, records, runtime.dialogue.directory)
    record_action("view_report", strict=True, month=month)
    return render_template("records/console_report.html", report=made, month=month,
                           desk_name=runtime.dialogue.directory.desk.name_in("ja"),
                           generated_at=runtime.clock().strftime("%Y-%m-%d %H:%M"),
                           **html.context(made, demo=runtime.records.is_generated(month)))


@bp.get("/console/report.csv")
@role_required("supervisor")
def csv_export() -> ResponseReturnValue:
    month = _month()
    if month is None:
        return Response("month must be YYYY-MM\n", status=400, mimetype="text/plain")
    runtime, records = _records(month)
    record_action("export", strict=True, month=month, rows=len(records))
    response = Response(export.to_csv(records, hotline_namer(runtime.dialogue.directory)), mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="records-{month}.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response
