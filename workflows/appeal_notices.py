"""E-mails about appeals (issue 6 item 7, SPEC B4 escalation), queued in the caller's transaction.

Kept in one small module so the texts can later come from editable event templates
(`EventTemplate`, events "appeal.reply", "appeal.state_changed", "appeal.escalated") without touching
the appeals service. Customer notices honour the recipient's e-mail master switch (C4 settings).
"""
from __future__ import annotations

from flask import current_app, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from werkzeug.routing import BuildError

from crm.services import outbox
from crm.services.accounts import notification_settings

CATEGORY = "appeals"


def _base() -> str:
    return current_app.config.get("PUBLIC_BASE_URL", "").rstrip("/")


def portal_url(appeal) -> str:
    """The appeal's card in the portal (absolute)."""
    try:
        return _base() + url_for("portal.appeal", appeal_id=appeal.id)
    except (BuildError, RuntimeError):
        return f"{_base()}/portal/appeals/{appeal.id}"


def desk_url(appeal) -> str:
    """The appeal on the curator desk (absolute)."""
    return f"{_base()}/admin/appeals/{appeal.id}"


def _locale(user) -> str:
    return getattr(user, "locale", None) or current_app.config.get("BABEL_DEFAULT_LOCALE", "ru")


def _wants_email(user) -> bool:
    return bool(user is not None and user.email and notification_settings(user).get("email"))


def queue_reply_notice(appeal, message) -> bool:
    """Tell the author that staff replied; False when the author switched e-mails off."""
    author = appeal.author
    if not _wants_email(author):
        return False
    with force_locale(_locale(author)):
        subject = _("Appeal %(number)s: new reply", number=appeal.number)
        body = "\n\n".join([
            _("Hello, %(name)s.", name=author.full_name or author.email),
            _("There is a new reply to your appeal %(number)s «%(title)s».", number=appeal.number,
              title=appeal.title),
            _("Read it and answer in the portal: %(url)s", url=portal_url(appeal)),
        ])
    outbox.queue_email(author.email, subject, body, user_id=author.id, category=CATEGORY)
    return True


def queue_status_notice(appeal, state) -> bool:
    """Tell the author the appeal's new status (its customer label); False when e-mails are off."""
    author = appeal.author
    if not _wants_email(author):
        return False
    with force_locale(_locale(author)):
        subject = _("Appeal %(number)s: status — %(status)s", number=appeal.number, status=state.customer_label)
        body = "\n\n".join([
            _("Hello, %(name)s.", name=author.full_name or author.email),
            _("The status of your appeal %(number)s «%(title)s» is now «%(status)s».", number=appeal.number,
              title=appeal.title, status=state.customer_label),
            _("Details in the portal: %(url)s", url=portal_url(appeal)),
        ])
    outbox.queue_email(author.email, subject, body, user_id=author.id, category=CATEGORY)
    return True


def queue_escalation_notice(appeal, lead) -> bool:
    """Tell the branch lead that the appeal's SLA is breached; False when the lead has no e-mail."""
    if lead is None or not lead.email:
        return False
    with force_locale(_locale(lead)):
        subject = _("Appeal %(number)s: response time exceeded", number=appeal.number)
        assignee = appeal.assignee.full_name if appeal.assignee is not None else _("nobody")
        body = "\n\n".join([
            _("The response time of appeal %(number)s «%(title)s» has passed.", number=appeal.number,
              title=appeal.title),
            _("Assigned to: %(assignee)s.", assignee=assignee),
            _("Open it on the desk: %(url)s", url=desk_url(appeal)),
        ])
    outbox.queue_email(lead.email, subject, body, user_id=lead.id, category=CATEGORY)
    return True
