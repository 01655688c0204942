"""Operations (SPEC B10): the dashboard (queues, workers, failed and periodic jobs), the e-mail outbox
(with retry) and the audit log viewer with its filters. Reading lives in crm.services.operations and
crm.services.audit_search; nothing here talks to Redis.
"""
from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.actions import action
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from crm.extensions import db
from crm.models import AuditLog, EmailOutbox
from crm.services import audit, audit_search, operations, outbox
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

    @expose("/list/")
    @has_access
    def list(self):
        """The log filtered by actor, action, subject and dates, newest first, 50 a page."""
        filters = audit_search.parse_filters(request.args)
        page = audit_search.search(filters, cursor=request.args.get("after"))
        status = 400 if filters.errors else 200
        return self.render_template("operations/audit.html", filters=filters, page=page,
                                    subject_types=audit_search.subject_types()), status


class OperationsView(BaseView):
    """One page for the machinery: queue depth and workers, failed jobs with retry, periodic jobs,
    the outbox by status. Admin acts; Auditor reads."""

    route_base = "/admin/operations"
    default_view = "index"
    staff_access = READ_ONLY_AUDIT
    method_permission_name = {"index": "list", "retry_job": "retry", "retry_task": "retry"}

    @expose("/")
    @has_access
    def index(self):
        """The dashboard."""
        return self.render_template(
            "operations/index.html", queue=operations.queue_state(), failed=operations.failed_jobs(),
            tasks=operations.failed_tasks(), schedule=operations.scheduled_jobs(),
            outbox=operations.outbox_counts(), status_labels=dict(ch.OUTBOX_STATUSES))

    @expose("/jobs/<job_id>/retry", methods=["POST"])
    @has_access
    def retry_job(self, job_id: str):
        """Put a failed RQ job back on its queue."""
        if operations.retry_failed_job(job_id[:100]):
            audit.record("operations.job_retry", detail={"job_id": job_id[:100]})
            db.session.commit()
            flash(gettext("The job was put back on the queue."), "success")
        else:
            flash(gettext("This job is no longer among the failed ones (or Redis is unavailable)."), "warning")
        return redirect(url_for("OperationsView.index"))

    @expose("/tasks/<int:task_id>/retry", methods=["POST"])
    @has_access
    def retry_task(self, task_id: int):
        """Run a failed background task again."""
        if operations.retry_task(task_id):
            audit.record("operations.task_retry", subject_type="background_task", subject_id=task_id)
            db.session.commit()
            flash(gettext("The task was started again."), "success")
        else:
            flash(gettext("This task is no longer failed, or the queue is unavailable."), "warning")
        return redirect(url_for("OperationsView.index"))
