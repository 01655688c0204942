"""Back-office import of billing records from xlsx/csv files (SPEC B9): choose the kind, upload, read the
counts or the per-row error report; download a template per kind. Thin: parse → service → render."""
from __future__ import annotations

from flask import abort, request, send_file
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext
from flask_login import current_user

from crm.formatting import format_number
from crm.services import ServiceError
from crm.services import billing_import as bi
from crm.services.spreadsheets import MAX_UPLOAD_BYTES

#: Billing operators import (Admin has every permission); curators and auditors do not
BILLING_IMPORT_ACCESS = {"Billing operator": "edit"}

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class BillingImportView(BaseView):
    """`/admin/billing-import/`: one page with the kind, the file and the result."""

    route_base = "/admin/billing-import"
    default_view = "upload"
    staff_access = BILLING_IMPORT_ACCESS

    def _render(self, kind_name: str, status: int = 200, **context):
        kinds = bi.kinds()
        kind = next((k for k in kinds if k.name == kind_name), kinds[0])
        columns = [spec for spec in kind.fields if spec.in_files]
        return self.render_template("billing_import/upload.html", kinds=kinds, kind=kind, columns=columns,
                                    max_items=format_number(bi.MAX_ITEMS), **context), status

    @expose("/", methods=["GET", "POST"])
    @has_access
    def upload(self):
        """The form; on POST import the file and show the counts or every problem."""
        kind_name = request.values.get("kind") or "contracts"
        if request.method == "GET":
            return self._render(kind_name)
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            return self._render(kind_name, 400, file_error=gettext("Choose a file to import."))
        data = upload.read(MAX_UPLOAD_BYTES + 1)
        try:
            counts = bi.import_file(kind_name, data, upload.filename, actor=current_user)
        except bi.BillingImportError as error:
            return self._render(kind_name, 422, problems=error.problems, message=error.message,
                                filename=upload.filename)
        except ServiceError as error:
            return self._render(kind_name, 400, file_error=error.message)
        return self._render(kind_name, counts=counts, filename=upload.filename)

    @expose("/template/<kind_name>")
    @has_access
    def template(self, kind_name: str):
        """An xlsx with the kind's columns and one example row."""
        if kind_name not in {kind.name for kind in bi.kinds()}:
            abort(404)
        import io

        data = bi.template_workbook(kind_name)
        return send_file(io.BytesIO(data), mimetype=XLSX_TYPE, as_attachment=True,
                         download_name=f"billing-{kind_name}-template.xlsx")
