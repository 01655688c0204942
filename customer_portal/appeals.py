"""Portal section: appeals (SPEC C13, seed 004 §8) — the tabs, the card and its dialogue, files.

Every route is `account_route`: appeals are the user's, not one contract's. What a user may see is
decided by `crm.services.appeal_portal` (one visibility predicate); an appeal, draft or file outside it
answers 404 so its existence is not revealed. Writes go through `workflows.appeals` only.
The new-appeal wizard and drafts live in `appeals_new.py`.
"""
from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm.services import appeal_portal
from crm.services.appeal_attachments import IMAGE_TYPES, open_attachment
from crm.services.appeal_forms import summary
from crm.storage import StorageError
from customer_portal import account_route, bp
from workflows.engine import WorkflowError, allowed_transitions


def _appeals_service():
    # Imported when called: the appeals service imports the notices and jobs, which import the app's pieces.
    from workflows import appeals

    return appeals


def _error_message(exc: Exception) -> str:
    return getattr(exc, "message", None) or str(exc)


def _page_number() -> int:
    value = request.args.get("page", "1")
    return int(value) if value.isdigit() else 1


@bp.route("/appeals/")
@account_route
def appeals():
    """The tabs Open / Drafts / Closed, grouped by the day of the last message (seed 004 §8.1)."""
    tab = request.args.get("tab", "open")
    if tab not in appeal_portal.TABS:
        tab = "open"
    page = appeal_portal.visible_appeals(current_user, tab, _page_number())
    today = appeal_portal.local_today()
    return render_template("portal/appeals/list.html", page=page, tab=tab, today=today,
                           yesterday=today - timedelta(days=1))


def _visible_or_404(appeal_id: int):
    appeal = appeal_portal.appeal_for_customer(current_user, appeal_id)
    if appeal is None:
        abort(404)
    return appeal


def _card_context(appeal) -> dict:
    service = _appeals_service()
    state = appeal_portal.pinned_state(appeal)
    closed = appeal.closed_at is not None
    messages = appeal_portal.public_messages(appeal)
    transitions = [] if closed else allowed_transitions(appeal, current_user)
    return {
        "appeal": appeal,
        "state": state,
        "closed": closed,
        "dialogue_open": (not closed) and state is not None and state.dialogue_allowed,
        "blocks": summary(appeal.form, appeal.form_data),
        "files": appeal_portal.appeal_files(appeal),
        "messages": messages,
        "transitions": transitions,
        "can_rate": closed and appeal.rated_at is None and appeal.author_id == current_user.id,
        "image_types": IMAGE_TYPES,
        "reply_max": service.MAX_BODY,
    }


@bp.route("/appeals/<int:appeal_id>")
@account_route
def appeal_card(appeal_id: int):
    """The card (seed 004 §8.4–8.5): header, form data, files, the dialogue; opening it marks it read."""
    appeal = _visible_or_404(appeal_id)
    if appeal.customer_unread:
        _appeals_service().mark_read(appeal, "customer")
    return render_template("portal/appeals/card.html", **_card_context(appeal))


def _render_card_error(appeal, message: str, **extra):
    flash(message, "danger")
    return render_template("portal/appeals/card.html", **_card_context(appeal), **extra), 422


def _card_action(appeal, act, done: str, anchor: str | None = None, refusals: tuple = (), **error_context):
    """Run `act` (a service call) for a form on the card: a refusal (AppealError or one of `refusals`) shows
    the card again with the message (422, the typed text kept through `error_context`); success flashes
    `done` and returns to the card."""
    service = _appeals_service()
    try:
        act(service)
    except (service.AppealError, *refusals) as exc:
        return _render_card_error(appeal, _error_message(exc), **error_context)
    flash(done, "success")
    return redirect(url_for("portal.appeal_card", appeal_id=appeal.id, _anchor=anchor))


@bp.route("/appeals/<int:appeal_id>/reply", methods=["POST"])
@account_route
def appeal_reply(appeal_id: int):
    """A public reply with files, only while the state allows dialogue (the service decides)."""
    appeal = _visible_or_404(appeal_id)
    body = request.form.get("body", "")
    files = [item for item in request.files.getlist("files") if item and item.filename]
    return _card_action(appeal, lambda service: service.reply(appeal, current_user, body, files),
                        _("Your message is sent."), "dialogue", reply_body=body)


@bp.route("/appeals/<int:appeal_id>/messages/<int:message_id>/decision", methods=["POST"])
@account_route
def appeal_decision(appeal_id: int, message_id: int):
    """Accept or reject (with a comment) a document the staff sent."""
    appeal = _visible_or_404(appeal_id)
    decision = request.form.get("decision", "")
    comment = request.form.get("comment", "").strip() or None
    return _card_action(appeal, lambda service: service.decide_document(appeal, message_id, current_user, decision,
                                                                         comment),
                        _("The document is accepted.") if decision == "accepted" else _("The document is rejected."),
                        "dialogue")


@bp.route("/appeals/<int:appeal_id>/rate", methods=["POST"])
@account_route
def appeal_rate(appeal_id: int):
    """The satisfaction rating 1–5 after closing; a low one reopens the appeal (the service decides)."""
    appeal = _visible_or_404(appeal_id)
    raw = request.form.get("rating", "")
    comment = request.form.get("comment", "").strip() or None
    if not raw.isdigit():
        return _render_card_error(appeal, _("Choose a rating from 1 to 5."))
    return _card_action(appeal, lambda service: service.rate(appeal, current_user, int(raw), comment),
                        _("Thank you for your rating."))


@bp.route("/appeals/<int:appeal_id>/transition", methods=["POST"])
@account_route
def appeal_transition(appeal_id: int):
    """A customer-side transition the workflow allows (e.g. withdrawing the appeal)."""
    appeal = _visible_or_404(appeal_id)
    raw = request.form.get("transition_id", "")
    if not raw.isdigit():
        abort(400)
    comment = request.form.get("comment", "").strip() or None
    return _card_action(appeal, lambda service: service.transition(appeal, current_user, int(raw), comment),
                        _("The appeal's status has changed."), refusals=(WorkflowError,))


@bp.route("/appeals/files/<int:attachment_id>")
@account_route
def appeal_file(attachment_id: int):
    """Download a file of a visible appeal (never of an internal note) or of the user's own draft.

    Images may be shown inline (`?inline=1`, the previews); everything else is always a download,
    and nothing is ever sniffed into HTML."""
    attachment = appeal_portal.attachment_for_customer(current_user, attachment_id)
    if attachment is None:
        abort(404)
    try:
        stream = open_attachment(attachment)
    except StorageError:
        abort(404)
    inline = request.args.get("inline") == "1" and attachment.content_type in IMAGE_TYPES
    response = Response(stream, mimetype=attachment.content_type, direct_passthrough=True)
    ascii_name = "".join(ch if ch.isascii() and ch.isalnum() or ch in "._-" else "_" for ch in attachment.filename)
    response.headers["Content-Disposition"] = (
        f"{'inline' if inline else 'attachment'}; filename=\"{ascii_name}\"; "
        f"filename*=UTF-8''{quote(attachment.filename)}")
    response.headers["Content-Length"] = str(attachment.size)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


from customer_portal import appeals_new  # noqa: E402,F401  (the wizard and drafts attach to bp)
