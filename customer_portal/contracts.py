"""Contracts (SPEC C5, C7): the list, the selector settings, the card and its xlsx download, removing
a contract from the account, and the customer's contact persons of a contract."""
from __future__ import annotations

from urllib.parse import quote

from flask import Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm.access import Capability
from crm.models import MAX_CONTACT_PERSONS
from crm.services import ServiceError, contract_export
from crm.services import contract_access as access_service
from crm.services import contracts as contract_service
from customer_portal import account_route, bp, contract_route
from customer_portal.context import portal_grants

CONTACT_FIELDS = ("full_name", "position", "phone", "email")


@bp.route("/contracts/")
@account_route
def contract_list():
    """Every contract the user has a role on, with counterparty, kind, status, role and branch."""
    bind_url = url_for("portal.bind_contract") if "portal.bind_contract" in current_app.view_functions else None
    grants = portal_grants()
    return render_template("portal/contracts.html", rows=contract_service.contract_rows(grants),
                           bind_url=bind_url, request_access_ids=_request_access_ids(grants))


def _request_access_ids(grants) -> set[int]:
    """Contracts on which "Request access" (the administrator role) is offered: no administrator yet
    and the user's role may ask (seed 004 §13.2.1.3)."""
    from crm.services.appeal_portal import contracts_without_administrator

    return contracts_without_administrator(
        grant.contract.id for grant in grants if grant.can(Capability.REQUEST_ADMIN_ROLE))


@bp.route("/contracts/selector", methods=["GET", "POST"])
@account_route
def selector_settings():
    """Which of the user's contracts the selector lists [003 §4]; at least one stays."""
    grants = portal_grants()
    error = None
    if request.method == "POST":
        try:
            contract_service.save_selector(current_user, grants, request.form.getlist("contracts"))
        except ServiceError as exc:
            error = exc.message
        else:
            flash(_("The contract selector is saved."), "success")
            return redirect(url_for("portal.selector_settings"))
    kept = current_user.selector_contract_ids
    kept_ids = {grant.contract.id for grant in grants} if kept is None else set(kept)
    if request.method == "POST":
        kept_ids = {int(cid) for cid in request.form.getlist("contracts") if cid.isdigit()}
    return render_template("portal/selector_settings.html", grants=grants, kept_ids=kept_ids, error=error)


@bp.route("/contracts/<int:contract_id>/")
@contract_route(Capability.VIEW_CONTRACT)
def contract_card(grant, contract_id: int):
    """Details, requisites, terms, contacts and the first objects within the user's scope (the objects
    page lists them all); 404 without a role."""
    card = contract_service.contract_card(grant, limit=contract_service.CARD_OBJECT_LIMIT)
    return render_template("portal/contract_card.html", grant=grant, card=card,
                           Capability=Capability, max_contacts=MAX_CONTACT_PERSONS,
                           request_access_ids=_request_access_ids([grant]))


@bp.route("/contracts/<int:contract_id>/card.xlsx")
@contract_route(Capability.VIEW_CONTRACT)
def contract_card_xlsx(grant, contract_id: int):
    """The card as an xlsx workbook, objects and meters within the user's scope."""
    body = contract_export.contract_card_xlsx(grant)
    name = contract_export.file_name(grant)
    ascii_name = f"contract-{grant.contract.number}.xlsx"
    response = Response(body, mimetype=contract_export.XLSX_MIMETYPE)
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}")
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/contracts/<int:contract_id>/remove", methods=["GET", "POST"])
@contract_route(Capability.REMOVE_CONTRACT)
def remove_contract(grant, contract_id: int):
    """Ask, then remove the contract from the user's account (their role on it goes)."""
    if request.method == "POST" and request.form.get("confirm") == "1":
        try:
            access_service.remove_contract_from_account(current_user, grant.contract)
        except ServiceError as exc:
            flash(exc.message, "danger")
            return redirect(url_for("portal.contract_card", contract_id=contract_id))
        flash(_("Contract %(number)s was removed from your account.", number=grant.contract.number), "success")
        return redirect(url_for("portal.contract_list"))
    card = contract_service.contract_card(grant, limit=contract_service.CARD_OBJECT_LIMIT)
    return render_template("portal/contract_card.html", grant=grant, card=card, Capability=Capability,
                           max_contacts=MAX_CONTACT_PERSONS, confirm_remove=True)


# --- contact persons (seed 000: at most 9 per contract) -------------------------------------------

@bp.route("/contracts/<int:contract_id>/contacts")
@contract_route(Capability.VIEW_CONTRACT)
def contact_persons(grant, contract_id: int):
    """The customer's contact persons of the contract; administrators and managers edit them."""
    persons = contract_service.contact_persons(contract_id)
    return render_template("portal/contact_persons.html", grant=grant, persons=persons,
                           can_edit=grant.can(Capability.EDIT_CONTACT_PERSONS), max_contacts=MAX_CONTACT_PERSONS)


@bp.route("/contracts/<int:contract_id>/contacts/add", methods=["GET", "POST"])
@contract_route(Capability.EDIT_CONTACT_PERSONS)
def contact_person_add(grant, contract_id: int):
    """Add a contact person; a 10th is refused with a message and nothing is added."""
    values, error = {}, None
    if request.method == "POST":
        values = {key: request.form.get(key, "") for key in CONTACT_FIELDS}
        try:
            person = contract_service.add_contact_person(grant.contract, values, actor=current_user)
        except ServiceError as exc:
            error = exc.message
        else:
            flash(_("Contact person %(name)s was added.", name=person.full_name), "success")
            return redirect(url_for("portal.contact_persons", contract_id=contract_id))
    count = len(contract_service.contact_persons(contract_id))
    return render_template("portal/contact_person_form.html", grant=grant, person=None, values=values,
                           error=error, full=count >= MAX_CONTACT_PERSONS, max_contacts=MAX_CONTACT_PERSONS), \
        (422 if error else 200)


@bp.route("/contracts/<int:contract_id>/contacts/<int:person_id>/edit", methods=["GET", "POST"])
@contract_route(Capability.EDIT_CONTACT_PERSONS)
def contact_person_edit(grant, contract_id: int, person_id: int):
    """Edit one contact person of the contract."""
    try:
        person = contract_service.contact_person(contract_id, person_id)
    except ServiceError as exc:
        flash(exc.message, "warning")
        return redirect(url_for("portal.contact_persons", contract_id=contract_id))
    values = {key: getattr(person, key) or "" for key in CONTACT_FIELDS}
    error = None
    if request.method == "POST":
        values = {key: request.form.get(key, "") for key in CONTACT_FIELDS}
        try:
            contract_service.update_contact_person(grant.contract, person_id, values, actor=current_user)
        except ServiceError as exc:
            error = exc.message
        else:
            flash(_("The contact person is saved."), "success")
            return redirect(url_for("portal.contact_persons", contract_id=contract_id))
    return render_template("portal/contact_person_form.html", grant=grant, person=person, values=values,
                           error=error, full=False, max_contacts=MAX_CONTACT_PERSONS), (422 if error else 200)


@bp.route("/contracts/<int:contract_id>/contacts/<int:person_id>/delete", methods=["POST"])
@contract_route(Capability.EDIT_CONTACT_PERSONS)
def contact_person_delete(grant, contract_id: int, person_id: int):
    """Delete one contact person of the contract."""
    try:
        contract_service.delete_contact_person(grant.contract, person_id, actor=current_user)
    except ServiceError as exc:
        flash(exc.message, "warning")
    else:
        flash(_("The contact person was deleted."), "success")
    return redirect(url_for("portal.contact_persons", contract_id=contract_id))


from customer_portal import contract_users  # noqa: E402,F401  (the users-of-the-contract routes attach to bp)
