"""Users of a contract (SPEC C6): the contract's administrator sees every user with role and object
scope, adds users by e-mail (an unknown address gets an account and an invitation), changes and
removes their roles. The rules live in crm.services.contract_access."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm.access import Capability
from crm.services import ServiceError
from crm.services import contract_access as access_service
from customer_portal import bp, contract_route


def _page(grant, *, values=None, error=None, error_field=None, status=200):
    return render_template(
        "portal/contract_users.html", grant=grant, rows=access_service.contract_users(grant.contract.id),
        objects=access_service.contract_objects(grant.contract.id), roles=access_service.CUSTOMER_GRANTABLE,
        values=values or {}, error=error, error_field=error_field,
        role_label=access_service.role_label), status


def _form_values() -> dict:
    return {"email": request.form.get("email", "").strip(), "role": request.form.get("role", ""),
            "objects": [oid for oid in request.form.getlist("objects") if oid.isdigit()]}


@bp.route("/contracts/<int:contract_id>/users")
@contract_route(Capability.MANAGE_ROLES)
def contract_users(grant, contract_id: int):
    """Every user of the contract with role and object scope, and the form to add one."""
    return _page(grant)


@bp.route("/contracts/<int:contract_id>/users/add", methods=["POST"])
@contract_route(Capability.MANAGE_ROLES)
def contract_user_add(grant, contract_id: int):
    """Give the user with this e-mail a role; an unknown address gets an account and an invitation."""
    values = _form_values()
    try:
        access = access_service.grant_role(grant.contract, values["email"], values["role"], values["objects"],
                                           actor=current_user)
    except ServiceError as exc:
        return _page(grant, values=values, error=exc.message, error_field=exc.field, status=422)
    flash(_("%(email)s now has the role %(role)s on the contract; we sent them an e-mail.",
            email=access.user.email, role=access_service.role_label(access.role)), "success")
    return redirect(url_for("portal.contract_users", contract_id=contract_id))


@bp.route("/contracts/<int:contract_id>/users/<int:access_id>/edit", methods=["GET", "POST"])
@contract_route(Capability.MANAGE_ROLES)
def contract_user_edit(grant, contract_id: int, access_id: int):
    """Change one user's role and object scope."""
    row = next((r for r in access_service.contract_users(contract_id) if r.access.id == access_id), None)
    if row is None:
        flash(_("This user has no role on the contract."), "warning")
        return redirect(url_for("portal.contract_users", contract_id=contract_id))
    values = {"role": row.role.value, "objects": [str(o.id) for o in row.objects]}
    error = None
    if request.method == "POST":
        values = _form_values()
        try:
            access = access_service.change_role(grant.contract, access_id, values["role"], values["objects"],
                                                actor=current_user)
        except ServiceError as exc:
            error = exc.message
        else:
            flash(_("The role of %(email)s is now %(role)s.", email=access.user.email,
                    role=access_service.role_label(access.role)), "success")
            return redirect(url_for("portal.contract_users", contract_id=contract_id))
    return render_template(
        "portal/contract_users_edit.html", grant=grant, row=row, values=values, error=error,
        objects=access_service.contract_objects(contract_id), roles=access_service.CUSTOMER_GRANTABLE,
        role_label=access_service.role_label, editable=not row.is_administrator and row.user.id != current_user.id,
    ), (422 if error else 200)


@bp.route("/contracts/<int:contract_id>/users/<int:access_id>/remove", methods=["POST"])
@contract_route(Capability.MANAGE_ROLES)
def contract_user_remove(grant, contract_id: int, access_id: int):
    """Remove a user's role on the contract (they get an e-mail)."""
    try:
        access_service.revoke_role(grant.contract, access_id, actor=current_user)
    except ServiceError as exc:
        flash(exc.message, "danger")
    else:
        flash(_("The user's role on the contract was removed."), "success")
    return redirect(url_for("portal.contract_users", contract_id=contract_id))
