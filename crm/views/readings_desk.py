"""Back office for readings (SPEC B3, B9): the curator's review queue and primary acts, the export of
submitted readings for billing and the import of the readings billing accepted. Thin: parse → service
→ render. Curator and Admin act; Auditor reads (queue, acts, export); billing operators export and import."""
from __future__ import annotations

import io
from datetime import date

from flask import Response, abort, flash, redirect, request, send_file, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext
from flask_login import current_user

from crm import clock
from crm.services import interval_profiles
from crm.services import readings_billing as rb
from crm.services import readings_review as review
from crm.services.readings import add_months
from crm.services.spreadsheets import MAX_UPLOAD_BYTES, SpreadsheetError
from crm.views import choices as ch

READINGS_DESK_ACCESS = {"Curator": "edit", "Auditor": "read"}
#: exchanging readings with billing is also the billing operators' work (like the other billing imports)
READINGS_EXCHANGE_ACCESS = {"Curator": "edit", "Billing operator": "edit", "Auditor": "read"}
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _back_to_queue(tab: str = "readings"):
    args = {key: value for key, value in request.form.items() if key in {"branch", "period", "status", "q"}}
    endpoint = "ReadingsReviewView.acts" if tab == "acts" else "ReadingsReviewView.list"
    return redirect(url_for(endpoint, **args))


class ReadingsReviewView(BaseView):
    """The queue of submitted readings (meter-wise) and primary acts, with bulk accept / reject."""

    route_base = "/admin/readings/review"
    default_view = "list"
    staff_access = READINGS_DESK_ACCESS
    method_permission_name = {"list": "list", "acts": "list", "download": "download", "review": "review",
                              "review_acts": "review"}

    def _page(self, tab: str):
        try:
            chosen = review.parse_filter(request.args)
            errors: list[str] = []
        except review.ReviewError as error:
            chosen, errors = review.QueueFilter(), error.messages
        queue = review.review_queue(chosen)
        can_review = self.appbuilder.sm.has_access("can_review", self.class_permission_name)
        return self.render_template("readings_desk/queue.html", queue=queue, tab=tab, filter_errors=errors,
                                    can_review=can_review, ch=ch, label_of=ch.label_of,
                                    statuses=ch.READING_STATUSES)

    @expose("/")
    @has_access
    def list(self):
        """Submitted readings grouped by meter and period, filtered by branch, period, status, search."""
        return self._page("readings")

    @expose("/acts")
    @has_access
    def acts(self):
        """Primary acts of hourly profiles, with the same filter."""
        return self._page("acts")

    @expose("/review", methods=["POST"])
    @has_access
    def review(self):
        """Accept or reject the chosen meter groups (a rejection needs a reason)."""
        try:
            count = review.review_readings(request.form.getlist("item"), request.form.get("decision", ""),
                                           current_user, request.form.get("reason"))
        except review.ReviewError as error:
            for message in error.messages:
                flash(message, "danger")
        else:
            flash(gettext("Readings decided: %(count)s.", count=count), "success")
        return _back_to_queue()

    @expose("/acts/review", methods=["POST"])
    @has_access
    def review_acts(self):
        """Accept or reject the chosen primary acts."""
        try:
            count = review.review_acts(request.form.getlist("item"), request.form.get("decision", ""),
                                       current_user, request.form.get("reason"))
        except review.ReviewError as error:
            for message in error.messages:
                flash(message, "danger")
        else:
            flash(gettext("Primary acts decided: %(count)s.", count=count), "success")
        return _back_to_queue("acts")

    @expose("/acts/<int:act_id>/xlsx")
    @has_access
    def download(self, act_id: int):
        """The primary act as xlsx (built by the interval-profile service)."""
        act = review.get_act(act_id)
        if act is None:
            abort(404)
        return send_file(io.BytesIO(interval_profiles.act_workbook(act)), mimetype=XLSX_TYPE, as_attachment=True,
                         download_name=f"act-{act.act_number}.xlsx")


class ReadingsExchangeView(BaseView):
    """Submitted readings out to billing (xlsx/CSV) and accepted readings in (xlsx/xls/CSV)."""

    route_base = "/admin/readings/billing"
    default_view = "export"
    staff_access = READINGS_EXCHANGE_ACCESS
    method_permission_name = {"export": "export", "import_readings": "import"}

    def _render(self, **context):
        branches = review.list_branches()
        can_import = self.appbuilder.sm.has_access("can_import", self.class_permission_name)
        context.setdefault("period", add_months(clock.today().replace(day=1), -1).strftime("%Y-%m"))
        context.setdefault("branch", "")
        return self.render_template("readings_desk/exchange.html", branches=branches, can_import=can_import,
                                    columns=rb.EXPORT_COLUMNS, import_columns=rb.IMPORT_REQUIRED,
                                    optional_columns=rb.IMPORT_OPTIONAL, **context)

    @expose("/")
    @has_access
    def export(self):
        """The export form; with `format` (xlsx or csv) the file of the chosen period and branch."""
        fmt = request.args.get("format")
        if not fmt:
            return self._render()
        raw_period, branch = request.args.get("period", ""), (request.args.get("branch") or "").strip() or None
        try:
            period: date = rb.parse_period(raw_period)
        except rb.ExportFilterError as error:
            return self._render(export_error=error.message, period=raw_period[:20], branch=branch or ""), 400
        if fmt not in ("xlsx", "csv"):
            abort(404)
        rows = rb.submitted_rows(period, branch)
        if fmt == "csv":
            data, mimetype = rb.export_csv(rows), "text/csv; charset=utf-8"
        else:
            data, mimetype = rb.export_xlsx(rows), XLSX_TYPE
        name = rb.export_filename(period, branch, fmt)
        return Response(data, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @expose("/import", methods=["GET", "POST"])
    @has_access
    def import_readings(self):
        """Upload a file of accepted readings: all rows are written, or none and every bad row is listed."""
        if request.method == "GET":
            return redirect(url_for("ReadingsExchangeView.export"))
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            return self._render(import_error=gettext("Choose a file to import.")), 400
        data = upload.read(MAX_UPLOAD_BYTES + 1)
        try:
            items, problems = rb.read_accepted_file(data, upload.filename)
            result = rb.import_accepted(items, problems, actor=current_user, channel="file")
        except SpreadsheetError as error:
            return self._render(import_error=error.message), 400
        except rb.AcceptedReadingsError as error:
            return self._render(import_error=error.message, import_problems=error.problems,
                                filename=upload.filename), 422
        return self._render(import_result=result, filename=upload.filename)
