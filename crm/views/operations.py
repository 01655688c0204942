"""Operations: the e-mail outbox (with retry) and the audit log viewer (SPEC B10)."""
from __future__ import annotations

from flask import flash, redirect, url_for
from flask_appbuilder.actions import action
from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from crm.models import AuditLog, EmailOutbox
from crm.services import outbox
from crm.views import choices as ch
from crm.views.common import (
    EagerSQLAInterface,
    ReadOnlyModelView,
    counterparty_link,
    pretty_json,
    timestamp,
)
from crm.views.labels import labels

READ_ONLY_AUDIT = {"Auditor": "read"}


class EmailOutboxView(ReadOnlyModelView):
    """Every e-mail the system sends; without SMTP the messages stay here ("held") to be read."""

    route_base = "/admin/outbox"
    datamodel = EagerSQLAInterface(EmailOutbox)
    staff_access = READ_ONLY_AUDIT  # retrying is Admin's only
    list_title = _l("E-mail outbox")
    show_title = _l("E-mail message")
    label_columns = labels(user_id=_l("User ID"))
    list_columns = ["created_at", "to_address", "subject", "status", "attempts", "sent_at", "category"]
    show_columns = ["to_address", "subject", "status", "category", "attempts", "last_error", "created_at",
                    "next_attempt_at", "sent_at", "message_id", "user_id", "body_text", "body_html"]
    search_columns = ["status", "to_address", "subject", "category", "created_at", "sent_at"]
    base_order = ("created_at", "desc")
    choice_columns = {"status": ch.OUTBOX_STATUSES}
    formatters_columns = {"created_at": timestamp, "sent_at": timestamp, "next_attempt_at": timestamp}

    @action("retry", _l("Send again"), _l("Send the selected messages again?"), "fa-refresh")
    def retry(self, items):
        """Put failed or held messages back in the queue."""
        single = not isinstance(items, list)
        items = [items] if single else items
        requeued = sum(1 for item in items if item is not None and outbox.retry(item.id))
        if requeued:
            flash(gettext("Messages queued for sending again: %(count)d", count=requeued), "success")
        else:
            flash(gettext("Only failed or held messages can be sent again."), "warning")
        if single and items[0] is not None:
            return redirect(url_for("EmailOutboxView.show", pk=items[0].id))
        return redirect(url_for("EmailOutboxView.list"))


class AuditLogView(ReadOnlyModelView):
    """Who did what and when, newest first."""

    route_base = "/admin/audit"
    datamodel = EagerSQLAInterface(AuditLog)
    staff_access = READ_ONLY_AUDIT
    list_title = _l("Audit log")
    show_title = _l("Audit record")
    label_columns = labels(created_at=_l("Time"))
    list_columns = ["created_at", "actor_label", "action", "subject_type", "subject_id", "counterparty_id"]
    show_columns = ["created_at", "actor_label", "action", "subject_type", "subject_id", "counterparty_id",
                    "ip_address", "user_agent", "detail"]
    search_columns = ["created_at", "actor_label", "action", "subject_type", "subject_id", "counterparty_id",
                      "ip_address"]
    base_order = ("created_at", "desc")
    formatters_columns = {"created_at": timestamp, "counterparty_id": counterparty_link, "detail": pretty_json}
