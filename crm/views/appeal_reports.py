"""Back office: the appeals report (SPEC B8) — figures, charts and an xlsx export. Thin: parse → service → render.

Curators see their own branches' appeals (as on the desk); Admin and Auditor see every branch.
"""
from __future__ import annotations

import io

from flask import flash, request, send_file
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from crm.extensions import db
from crm.models import Branch
from crm.services import appeal_reports as reports

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _branch_scope():
    from crm.services.appeal_desk import desk_branch_ids

    return desk_branch_ids(current_user)


class AppealReportView(BaseView):
    """Appeals by status, section, curator and branch; SLA compliance; response and resolution times."""

    route_base = "/admin/appeals/report"
    default_view = "report"
    staff_access = {"Curator": "read", "Auditor": "read"}
    method_permission_name = {"report": "list", "export": "list"}

    def _filter(self):
        try:
            return reports.parse_filter(request.args), []
        except reports.ReportError as error:
            return reports.parse_filter({}), error.messages

    @expose("/")
    @has_access
    def report(self):
        """The report page for the chosen period and branch."""
        chosen, errors = self._filter()
        for message in errors:
            flash(message, "danger")
        scope = _branch_scope()
        report = reports.build_report(chosen, scope)
        branches = db.session.scalars(select(Branch).order_by(Branch.name)).all()
        if scope is not None:
            branches = [branch for branch in branches if branch.id in scope]
        return self.render_template("appeal_reports/report.html", report=report, branches=branches,
                                    charts=reports.chart_data(report))

    @expose("/export")
    @has_access
    def export(self):
        """The same report as an xlsx workbook."""
        chosen, _errors = self._filter()
        report = reports.build_report(chosen, _branch_scope())
        name = f"appeals-report-{chosen.date_from:%Y%m%d}-{chosen.date_to:%Y%m%d}.xlsx"
        return send_file(io.BytesIO(reports.report_xlsx(report)), mimetype=XLSX_TYPE, as_attachment=True,
                         download_name=name)


def register_appeal_report_views(appbuilder) -> None:
    """Add the report under the Appeals menu."""
    appbuilder.add_view(AppealReportView, "Appeals report", label=_l("Appeals report"), icon="fa-bar-chart",
                        category="Appeals", category_label=_l("Appeals"), category_icon="fa-comments")
