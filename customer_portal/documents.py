"""Documents history of a contract (SPEC C10) [004 §7.1]: type and period filter, download (the stored file
or a generated PDF), "send to e-mail" in the background, "Pay" where the amount due is not zero.

A document id in the path is looked up within the contract of the path: another contract's document
answers 404, like a contract the user has no role on.
"""
from __future__ import annotations

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm import clock
from crm.access import Capability
from crm.formatting import format_period
from crm.services import documents as service
from customer_portal import bp, contract_route
from customer_portal.settlements import money_formatter, pay_links_available


@bp.route("/contracts/<int:contract_id>/documents")
@contract_route(Capability.VIEW_FINANCE)
def documents(grant, contract_id: int):
    """The contract's documents of a type and period (every type, the last twelve months by default)."""
    today = clock.today()
    args = request.args
    values = {"doc_type": args.get("doc_type", ""), "date_from": args.get("date_from", ""),
              "date_to": args.get("date_to", "")}
    errors: dict[str, str] = {}
    try:
        chosen = service.parse_filter(values["doc_type"], values["date_from"], values["date_to"], today=today)
    except service.DocumentsFilterError as exc:
        errors = exc.errors
        chosen = service.default_filter(today)
    page = service.documents_history(contract_id, chosen, service.parse_page(args.get("page")))
    form = {"doc_type": chosen.doc_type or service.ALL_TYPES, "date_from": chosen.date_from.isoformat(),
            "date_to": chosen.date_to.isoformat()}
    if errors:
        form.update({key: values[key].strip()[:32] for key in ("date_from", "date_to") if values[key].strip()})
    # Per-page values computed once, not per row: labels, period names, links.
    labels = {doc_type: service.type_label(doc_type) for doc_type in service.TYPES}
    periods = {doc.period: format_period(doc.period) for doc in page.rows if doc.period}
    pager_args = {"doc_type": form["doc_type"], "date_from": chosen.date_from.isoformat(),
                  "date_to": chosen.date_to.isoformat()}
    pager = {number: url_for("portal.documents", contract_id=contract_id, page=number, **pager_args)
             for number in (page.page - 1, page.page + 1) if 1 <= number <= page.pages}
    return render_template(
        "portal/documents.html", grant=grant, contract=grant.contract, page=page, chosen=chosen, form=form,
        errors=errors, types=service.TYPES, labels=labels, periods=periods, pager=pager,
        docs_base=url_for("portal.documents", contract_id=contract_id), pay_links=pay_links_available(),
        can_pay=grant.can(Capability.PAY), user_email=current_user.email, fmt_money=money_formatter(),
        email_confirmed=bool(current_user.email and current_user.email_confirmed_at),
    ), (400 if errors else 200)


def _document_or_404(contract_id: int, document_id: int):
    doc = service.get_document(contract_id, document_id)
    if doc is None:
        abort(404)
    return doc


@bp.route("/contracts/<int:contract_id>/documents/<int:document_id>/download")
@contract_route(Capability.VIEW_FINANCE)
def document_download(grant, contract_id: int, document_id: int):
    """The document's PDF (stored or generated), opened in the browser with a file name to save it under."""
    doc = _document_or_404(contract_id, document_id)
    data, content_type = service.document_pdf(doc)
    response = make_response(data)
    response.headers["Content-Type"] = content_type
    filename = service.document_filename(doc) if content_type == service.PDF else f"document-{doc.id}"
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/contracts/<int:contract_id>/documents/<int:document_id>/send", methods=["POST"])
@contract_route(Capability.VIEW_FINANCE)
def document_send(grant, contract_id: int, document_id: int):
    """Queue "send to e-mail" and come back to the list with the seed's message."""
    _document_or_404(contract_id, document_id)
    try:
        email = service.request_email(contract_id, document_id, current_user)
    except service.DocumentEmailError as exc:
        flash(exc.message, "warning")
    else:
        # the seed's message [004 §7.1]
        flash(_("The document will be sent to your e-mail address after it is prepared. "
                "Preparation may take up to 10 minutes.") + " " + _("Address: %(email)s.", email=email), "success")
    back = request.form.get("next", "")
    if not back.startswith(f"/portal/contracts/{contract_id}/documents"):
        back = url_for("portal.documents", contract_id=contract_id)
    return redirect(back)
