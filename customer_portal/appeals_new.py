"""Portal: filing an appeal (seed 004 §8.2–8.3) — choice, the multi-step form, drafts, "Appeal sent".

Step 1 chooses the contract (optional), the object and topic → section → subsection; the section's
form then runs "Step k of n" with Back / Next. Nothing is written until the user sends the appeal or
saves a draft, so the wizard's progress travels with the page (`appeal_wizard.py`: a signed blob
bound to the user, and the files uploaded so far under generated storage keys). Every value is
validated again when the appeal is sent. A cookie session
could not carry eight steps of text; a server-side wizard row would put unfinished forms in the
Drafts tab that the user never chose to keep (seed 004 §8.3.1: drafts are saved on request).
"""
from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm.access import Capability
from crm.formatting import format_day
from crm.services import appeal_forms, appeal_portal
from crm.services.appeal_catalogue import Choice, ChoiceError, catalogue_for, check_choice, load_choice
from customer_portal import account_route, bp, contract_route
from customer_portal import appeal_wizard as wizard
from customer_portal.context import portal_grants

EXTRA_FILES = wizard.EXTRA_FILES
ACCESS_RIGHTS_SECTION = "access_rights"


def _service():
    from workflows import appeals

    return appeals


# --- step 1: the choice ----------------------------------------------------------------------------

def _int_arg(source, name: str) -> int | None:
    value = (source.get(name) or "").strip()
    return int(value) if value.isdigit() else None


def _choice_args(source) -> dict:
    return {name: _int_arg(source, name) for name in ("contract_id", "object_id", "section_id", "subsection_id")}


def _render_choice(values: dict, errors: dict | None = None, status: int = 200):
    return render_template("portal/appeals/new.html", catalogue=catalogue_for(portal_grants()), values=values,
                           errors=errors or {}), status


@bp.route("/appeals/new", methods=["GET", "POST"])
@account_route
def appeal_new():
    """Step 1: contract, object, topic, section, subsection (prefilled from the query string)."""
    values = _choice_args(request.values)
    if request.method == "GET":
        return _render_choice(values)
    try:
        choice = check_choice(portal_grants(), **values)
    except ChoiceError as exc:
        return _render_choice(values, exc.errors, 422)
    state = wizard.new_state(choice, step=0, data={}, draft_id=None)
    return _render_step(choice, state)


@bp.route("/contracts/<int:contract_id>/request-admin-role")
@contract_route(Capability.REQUEST_ADMIN_ROLE)
def request_admin_role(grant, contract_id: int):
    """"Request access" (seed 004 §13.2.1.3): a new appeal of section "Access rights" for this contract."""
    if not appeal_portal.contracts_without_administrator([contract_id]):
        # Offered only then (seed 004 §13.2.1.3); the one-administrator rule would refuse the grant anyway.
        flash(_("Contract %(number)s already has an administrator; ask them for the role you need.",
                number=grant.contract.number), "info")
        return redirect(url_for("portal.contract_card", contract_id=contract_id))
    section_id = appeal_portal.section_id_by_code(ACCESS_RIGHTS_SECTION)
    if section_id is None:
        flash(_("Requests for the administrator role are not available yet."), "warning")
        return redirect(url_for("portal.contract_list"))
    return redirect(url_for("portal.appeal_new", contract_id=contract_id, section_id=section_id))


# --- the form steps ----------------------------------------------------------------------------------

def _steps(form) -> list:
    return list(form.steps) if form is not None else []


def _draft_files(state: dict) -> list:
    if not state.get("draft_id"):
        return []
    draft = g.get("portal_draft")    # the draft this request already loaded (the resume page)
    if draft is None or draft.id != state["draft_id"]:
        draft = appeal_portal.draft_for_author(current_user, state["draft_id"])
    return list(draft.attachments) if draft is not None else []


def _names_for(field_name: str, state: dict, new_names=()) -> list[str]:
    """Every file name attached so far to a form field (draft, earlier uploads, this request)."""
    names = [a.filename for a in _draft_files(state) if a.field_name == field_name]
    names += [item["filename"] for item in state["uploads"].get(field_name, [])]
    return names + list(new_names)


def _render_step(choice: Choice, state: dict, errors: dict | None = None, values: dict | None = None,
                 status: int = 200):
    form = choice.form
    steps = _steps(form)
    index = min(state["step"], max(len(steps) - 1, 0))
    state["step"] = index
    step = steps[index] if steps else None
    shown = dict(appeal_forms.prefill(form, current_user, choice.contract))
    shown.update(state["data"])
    if values:
        shown.update(values)
    return render_template(
        "portal/appeals/step.html", choice=choice, step=step, index=index, last=index >= len(steps) - 1,
        total=len(steps) + 1, values=shown, errors=errors or {}, state_token=wizard.dump_state(state),
        uploads=state["uploads"], draft_files=_draft_files(state), draft_id=state.get("draft_id")), status


def _step_values(step) -> dict:
    """What the user typed on the step (strings, checkboxes "1"), before validation."""
    values = {}
    for field in step.fields if step is not None else []:
        if field.field_type == "file":
            continue
        if field.field_type == "checkbox":
            values[field.name] = "1" if request.form.get(field.name) else ""
        else:
            values[field.name] = request.form.get(field.name, "")
    return values


@bp.route("/appeals/new/form", methods=["POST"])
@account_route
def appeal_form():
    """One step of the form: Back, Next, Save draft, Send, remove a file, or close without saving."""
    state = wizard.load_state(request.form.get("state", ""))
    if wizard.finished(state):
        flash(_("This appeal has already been sent or saved as a draft."), "info")
        return redirect(url_for("portal.appeals", tab="drafts" if state.get("draft_id") else "open"))
    try:
        choice = load_choice(portal_grants(), state["choice"])
    except ChoiceError as exc:
        flash(next(iter(exc.errors.values()), _("The appeal can no longer be filed.")), "danger")
        wizard.discard_uploads(state)
        return redirect(url_for("portal.appeals"))
    steps = _steps(choice.form)
    step = steps[min(state["step"], len(steps) - 1)] if steps else None
    action = request.form.get("action", "next")
    typed = _step_values(step)

    if action == "discard":
        wizard.discard_uploads(state)
        return redirect(url_for("portal.appeals", tab="drafts" if state.get("draft_id") else "open"))
    if action.startswith("remove:"):
        return _remove_upload(choice, state, action.removeprefix("remove:"), typed)
    if action == "back":
        if state["step"] == 0 and not state.get("draft_id"):
            # Back from the first form step is the choice again (files of this wizard are let go).
            wizard.discard_uploads(state)
            return redirect(url_for("portal.appeal_new", **{k: v for k, v in state["choice"].items() if v}))
        state["data"].update(typed)
        state["step"] = max(state["step"] - 1, 0)
        return _render_step(choice, state)
    if action == "save_draft":
        return _save_draft(choice, state)

    file_fields = [f.name for f in (step.fields if step else []) if f.field_type == "file"]
    if action == "send" or state["step"] >= len(steps) - 1:
        file_fields.append(EXTRA_FILES)
    stored, file_errors = wizard.store_uploads(file_fields)
    for name, items in stored.items():
        state["uploads"].setdefault(name, []).extend(items)
    errors = dict(file_errors)
    if step is not None:
        names = {f.name: _names_for(f.name, state) for f in step.fields if f.field_type == "file"}
        try:
            cleaned = appeal_forms.validate_step(choice.form, state["step"], typed, names)
        except appeal_forms.FormInvalidError as exc:
            errors = {**exc.errors, **errors}
        else:
            if not errors:
                state["data"].update(cleaned)
    if errors:
        return _render_step(choice, state, errors, typed, 422)
    if action == "send" and state["step"] >= len(steps) - 1:
        return _send(choice, state)
    state["step"] = min(state["step"] + 1, max(len(steps) - 1, 0))
    return _render_step(choice, state)


def _remove_upload(choice: Choice, state: dict, key: str, typed: dict):
    wizard.remove_upload(state, key)
    return _render_step(choice, state, values=typed)


def _save_draft(choice: Choice, state: dict):
    service = _service()
    try:
        draft = service.save_draft(
            current_user, draft_id=state.get("draft_id"), topic_id=choice.topic.id, section_id=choice.section.id,
            subsection_id=choice.subsection.id if choice.subsection else None,
            contract_id=choice.contract.id if choice.contract else None,
            energy_object_id=choice.energy_object.id if choice.energy_object else None,
            steps_completed=state["step"], form_data=_completed_data(choice, state),
            files=wizard.as_file_storages(state))
    except (service.AppealError, wizard.UploadsLostError) as exc:
        flash(exc.message, "danger")
        return _render_step(choice, state, status=422)
    wizard.discard_uploads(state)
    wizard.mark_finished(state)
    flash(_("The draft is saved. You can continue filling it in until %(day)s.", day=format_day(draft.expires_at)),
          "success")
    return redirect(url_for("portal.appeals", tab="drafts"))


def _completed_data(choice: Choice, state: dict) -> dict:
    """Values of the completed steps only (seed 004 §8.3.1: the current step is kept once passed)."""
    names = {field.name for step in _steps(choice.form)[:state["step"]] for field in step.fields}
    return {key: value for key, value in state["data"].items() if key in names}


def _send(choice: Choice, state: dict):
    service = _service()
    try:
        appeal = service.submit_appeal(
            current_user, section_id=choice.section.id,
            subsection_id=choice.subsection.id if choice.subsection else None,
            contract_id=choice.contract.id if choice.contract else None,
            energy_object_id=choice.energy_object.id if choice.energy_object else None,
            form_data=state["data"], files=wizard.as_file_storages(state), draft_id=state.get("draft_id"))
    except wizard.UploadsLostError as exc:
        flash(exc.message, "danger")
        return _render_step(choice, state, status=422)
    except service.AppealError as exc:
        field_errors = _form_errors(choice, exc.errors)
        if field_errors:
            # A value of an earlier step no longer passes (e.g. the form was changed): show that step.
            state["step"] = _first_step_with_error(choice, field_errors)
            return _render_step(choice, state, field_errors, status=422)
        flash(exc.message, "danger")
        return _render_step(choice, state, status=422)
    wizard.discard_uploads(state)
    wizard.mark_finished(state)
    return redirect(url_for("portal.appeal_sent", appeal_id=appeal.id))


def _form_errors(choice: Choice, errors: dict) -> dict:
    names = {field.name for step in _steps(choice.form) for field in step.fields}
    return {name: message for name, message in (errors or {}).items() if name in names}


def _first_step_with_error(choice: Choice, errors: dict) -> int:
    for index, step in enumerate(_steps(choice.form)):
        if any(field.name in errors for field in step.fields):
            return index
    return 0


@bp.route("/appeals/<int:appeal_id>/sent")
@account_route
def appeal_sent(appeal_id: int):
    """"Appeal sent" with its number (seed 004 §8.2.1)."""
    appeal = appeal_portal.appeal_for_customer(current_user, appeal_id)
    if appeal is None:
        abort(404)
    return render_template("portal/appeals/sent.html", appeal=appeal)


# --- drafts ------------------------------------------------------------------------------------------

@bp.route("/appeals/drafts/<int:draft_id>")
@account_route
def appeal_draft_resume(draft_id: int):
    """Resume a draft at its next step, with the values and files saved (seed 004 §8.3.2)."""
    draft = appeal_portal.draft_for_author(current_user, draft_id)
    if draft is None:
        abort(404)
    g.portal_draft = draft
    try:
        choice = load_choice(portal_grants(), {
            "contract_id": draft.contract_id, "object_id": draft.energy_object_id, "section_id": draft.section_id,
            "subsection_id": draft.subsection_id})
    except ChoiceError as exc:
        flash(next(iter(exc.errors.values()), _("The draft can no longer be sent.")), "danger")
        return redirect(url_for("portal.appeals", tab="drafts"))
    state = wizard.new_state(choice, step=draft.steps_completed, data=dict(draft.form_data or {}), draft_id=draft.id)
    return _render_step(choice, state)


@bp.route("/appeals/drafts/<int:draft_id>/delete", methods=["POST"])
@account_route
def appeal_draft_delete(draft_id: int):
    """Delete one of the user's drafts and its files."""
    if appeal_portal.draft_for_author(current_user, draft_id) is None:
        abort(404)
    service = _service()
    try:
        service.delete_draft(current_user, draft_id)
    except service.AppealError as exc:
        flash(exc.message, "danger")
    else:
        flash(_("The draft is deleted."), "success")
    return redirect(url_for("portal.appeals", tab="drafts"))
