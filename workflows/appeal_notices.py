"""E-mails about appeals (issue 6 item 7, SPEC B4 escalation), queued in the caller's transaction.

The texts are the editable message templates of the events "appeal.reply", "appeal.status_changed"
and "appeal.escalated" (`crm/services/message_templates.py`: an admin's edit in the back office wins
over the shipped default, in the recipient's language). A customer is written to only when their
e-mail master switch (C4 settings) is on and the admin has not switched the event's e-mail off.
"""
from __future__ import annotations

from flask import current_app, url_for
from werkzeug.routing import BuildError

from crm.formatting import format_timestamp
from crm.services import outbox
from crm.services.accounts import notification_settings
from crm.services.message_templates import recipient_locale, render_message, wants_email

CATEGORY = "appeals"


def _base() -> str:
    return current_app.config.get("PUBLIC_BASE_URL", "").rstrip("/")


def portal_url(appeal) -> str:
    """The appeal's card in the portal (absolute)."""
    try:
        return _base() + url_for("portal.appeal_card", appeal_id=appeal.id)
    except (BuildError, RuntimeError):
        return f"{_base()}/portal/appeals/{appeal.id}"


def desk_url(appeal) -> str:
    """The appeal on the curator desk (absolute)."""
    return f"{_base()}/admin/appeals/{appeal.id}"


def _topic(appeal) -> str:
    return appeal.title or (appeal.section.name if appeal.section is not None else "")


def _customer_wants(user, event: str, locale: str) -> bool:
    return bool(user is not None and user.email and notification_settings(user).get("email")
                and wants_email(event, locale))


def _queue(user, event: str, context: dict) -> bool:
    locale = recipient_locale(user)
    if event != "appeal.escalated" and not _customer_wants(user, event, locale):
        return False
    subject, body = render_message(event, locale, context)
    outbox.queue_email(user.email, subject, body, user_id=user.id, category=CATEGORY)
    return True


def queue_reply_notice(appeal, message) -> bool:
    """Tell the author that staff replied; False when the author (or the admin) switched it off."""
    author = appeal.author
    return _queue(author, "appeal.reply", {
        "name": author.first_name or author.full_name, "appeal_number": appeal.number, "topic": _topic(appeal),
        "reply_text": message.body, "link": portal_url(appeal)})


def queue_status_notice(appeal, state, comment: str | None = None) -> bool:
    """Tell the author the appeal's new status (its customer label); False when switched off."""
    author = appeal.author
    return _queue(author, "appeal.status_changed", {
        "name": author.first_name or author.full_name, "appeal_number": appeal.number, "topic": _topic(appeal),
        "status": state.customer_label, "comment": comment or "", "link": portal_url(appeal)})


def queue_escalation_notice(appeal, lead, state=None) -> bool:
    """Tell the branch lead that the appeal's SLA is breached; False when there is no lead with an e-mail."""
    if lead is None or not lead.email:
        return False
    return _queue(lead, "appeal.escalated", {
        "appeal_number": appeal.number, "topic": _topic(appeal),
        "status": state.staff_label if state is not None else appeal.state_code,
        "due": format_timestamp(appeal.sla_due_at), "assignee": appeal.assignee.full_name if appeal.assignee else "",
        "link": desk_url(appeal)})
