"""Back office: notifications (SPEC B6) and news. Staff author a notification (kind, category, Markdown,
attachments, buttons, display window, audience), preview it as a chosen customer, send it now or at a
time, and follow delivery and read statistics. The rules live in workflows.notifications."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import abort, current_app, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.fieldwidgets import Select2Widget
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select
from wtforms import SelectField, ValidationError
from wtforms.validators import Optional

from crm import clock
from crm.extensions import db
from crm.models import Branch, Contract, CrmUser
from crm.models.catalog import News
from crm.models.notification import Notification
from crm.services.contract_access import ROLE_LABELS
from crm.services.markdown_render import render_markdown
from crm.views.common import CrmModelView, EagerSQLAInterface, timestamp
from crm.views.labels import labels
from workflows import notifications as service
from workflows.notification_audience import CATEGORIES, MANDATORY_CATEGORIES
from workflows.notification_fields import NotificationError, audience_from_form

KIND_LABELS = {"bell": _l("Bell (list of notifications)"), "modal": _l("Modal window after sign-in"),
               "banner": _l("Banner at the top of pages"), "email": _l("E-mail only")}
CATEGORY_LABELS = {"general": _l("General"), "marketing": _l("Offers and news (marketing)"),
                   "invoices": _l("Invoices"), "payments": _l("Payments"), "readings": _l("Meter readings"),
                   "debt": _l("Debt"), "outage": _l("Outages"), "security": _l("Security"), "system": _l("System")}
AUDIENCE_LABELS = {"everyone": _l("Everyone"), "branch": _l("Customers of branches"),
                   "contracts": _l("Users of contracts"), "contract_role": _l("Holders of a contract role"),
                   "user": _l("One or several users"), "person_type": _l("Households or legal entities")}
PERSON_TYPE_LABELS = {"individual": _l("Households (individuals)"), "legal": _l("Legal entities and sole proprietors")}
PAGE_SIZE = 50
LOCAL_FORMAT = "%Y-%m-%dT%H:%M"


def _local_input(value) -> str:
    """A datetime for an <input type="datetime-local"> in the display time zone."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return value.astimezone(_display_tz()).strftime(LOCAL_FORMAT)


def _display_tz() -> ZoneInfo:
    return ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE", "Europe/Moscow"))


def _form_values(notification: Notification | None) -> dict:
    """The form's fields, from the request (after a refused POST) or from the notification."""
    if request.method == "POST":
        values = request.form.to_dict()
        values["branch_ids"] = request.form.getlist("branch_ids")
        values["send_email"] = bool(request.form.get("send_email"))
        return values
    if notification is None:
        return {"kind": "bell", "category": "general", "audience_type": "everyone", "branch_ids": []}
    audience = notification.audience or {}
    kind = audience.get("type")
    ids = audience.get("ids") or []
    values = {name: getattr(notification, name) or "" for name in
              ("kind", "category", "subject", "body_markdown", "confirm_text", "goto_url", "goto_label")}
    values.update(send_email=notification.send_email, audience_type=kind, role=audience.get("role", ""),
                  person_type=audience.get("value", ""), branch_ids=[str(i) for i in ids] if kind == "branch" else [],
                  display_from=_local_input(notification.display_from),
                  display_until=_local_input(notification.display_until))
    if kind in ("contracts", "contract_role") and ids:
        values["contract_numbers"] = "\n".join(db.session.scalars(select(Contract.number).where(Contract.id.in_(ids))
                                                                  .order_by(Contract.number)))
    if kind == "user" and ids:
        values["user_emails"] = "\n".join(db.session.scalars(select(CrmUser.email).where(CrmUser.id.in_(ids))
                                                             .order_by(CrmUser.email)))
    return values


def _fields_from_form(form, notification: Notification | None = None) -> dict:
    """Service fields from the posted form (the audience is resolved: numbers and e-mails → ids); a sent
    notification keeps its audience (the form shows it disabled, so a browser does not post it; a posted
    one is checked, and the service refuses a change)."""
    if notification is not None and notification.sent_at is not None and not form.get("audience_type"):
        audience = notification.audience
    else:
        audience = audience_from_form({"audience_type": form.get("audience_type"),
                                       "branch_ids": form.getlist("branch_ids"),
                                       "contract_numbers": form.get("contract_numbers"), "role": form.get("role"),
                                       "user_emails": form.get("user_emails"),
                                       "person_type": form.get("person_type")})
    fields = {name: form.get(name) for name in ("kind", "category", "subject", "body_markdown", "confirm_text",
                                                "goto_url", "goto_label", "display_from", "display_until")}
    fields["send_email"] = bool(form.get("send_email"))
    fields["audience"] = audience
    return fields


def _fields_of(notification: Notification) -> dict:
    return {name: getattr(notification, name) for name in
            ("kind", "category", "subject", "body_markdown", "confirm_text", "goto_url", "goto_label",
             "display_from", "display_until", "send_email", "audience")}


def audience_summary(audience: dict) -> str:
    """One line saying who receives it ("Users of contracts: 3")."""
    kind = (audience or {}).get("type")
    label = str(AUDIENCE_LABELS.get(kind, kind))
    if kind == "contract_role":
        label += ": " + str(ROLE_LABELS.get(audience.get("role"), audience.get("role")))
        if audience.get("ids"):
            label += " · " + gettext("contracts: %(count)d", count=len(audience["ids"]))
    elif kind == "person_type":
        label += ": " + str(PERSON_TYPE_LABELS.get(audience.get("value"), ""))
    elif audience.get("ids"):
        label += ": " + str(len(audience["ids"]))
    return label


def audience_detail(audience: dict, limit: int = 10) -> str:
    """Whom the ids name (branch names, contract numbers, e-mails), for the notification's page."""
    kind, ids = (audience or {}).get("type"), (audience or {}).get("ids") or []
    column = {"branch": Branch.name, "contracts": Contract.number, "contract_role": Contract.number,
              "user": CrmUser.email}.get(kind)
    if column is None or not ids:
        return ""
    names = db.session.scalars(select(column).where(column.class_.id.in_(ids)).order_by(column).limit(limit)).all()
    more = len(ids) - len(names)
    return ", ".join(names) + (" " + gettext("and %(count)d more", count=more) if more > 0 else "")


def status_of(notification: Notification) -> str:
    if notification.sent_at is not None:
        return gettext("Sent %(when)s", when=timestamp(notification.sent_at))
    if notification.scheduled_at is not None:
        return gettext("Scheduled for %(when)s", when=timestamp(notification.scheduled_at))
    return gettext("Draft")


class NotificationAdminView(BaseView):
    """Notifications: list, author, preview, send or schedule, statistics."""

    route_base = "/admin/notifications"
    default_view = "list"
    staff_access = {"Curator": "edit", "Auditor": "read"}

    def _render(self, template: str, **context):
        # Read-only staff (Auditor) see no authoring buttons: they would only be refused.
        may_edit = self.appbuilder.sm.has_access("can_send", self.class_permission_name)
        return self.render_template(
            f"notifications_admin/{template}", kind_labels=KIND_LABELS, category_labels=CATEGORY_LABELS,
            audience_labels=AUDIENCE_LABELS, person_type_labels=PERSON_TYPE_LABELS, role_labels=ROLE_LABELS,
            categories=CATEGORIES, mandatory=MANDATORY_CATEGORIES, timestamp=timestamp,
            audience_summary=audience_summary, audience_detail=audience_detail, status_of=status_of,
            may_edit=may_edit, **context)

    def _get(self, notification_id: int) -> Notification:
        notification = db.session.get(Notification, notification_id)
        if notification is None or notification.event is not None:  # system events are not authored here
            abort(404)
        return notification

    @expose("/", methods=["GET"])
    @has_access
    def list(self):
        """Authored notifications, newest first, with their status and read share."""
        page = max(request.args.get("page", 1, type=int), 1)
        base = select(Notification).where(Notification.event.is_(None))
        total = db.session.scalar(select(func.count()).select_from(base.subquery()))
        rows = db.session.scalars(base.order_by(Notification.created_at.desc(), Notification.id.desc())
                                  .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
        stats = service.read_counts([row.id for row in rows])
        return self._render("list.html", rows=rows, stats=stats, page=page, pages=max((total - 1) // PAGE_SIZE + 1, 1),
                            total=total)

    def _form(self, notification: Notification | None):
        problems: dict = {}
        if request.method == "POST":
            try:
                fields = _fields_from_form(request.form, notification)
                if notification is None:
                    notification = service.create_notification(current_user, **fields)
                    flash(gettext("The notification is saved as a draft. Check the preview, then send it."), "success")
                else:
                    service.update_notification(notification, actor=current_user, **fields)
                    flash(gettext("The notification is saved."), "success")
                return redirect(url_for("NotificationAdminView.show", notification_id=notification.id))
            except NotificationError as exc:
                db.session.rollback()
                problems = exc.problems
                flash(exc.message, "danger")
        branches = db.session.scalars(select(Branch).order_by(Branch.name)).all()
        return self._render("form.html", notification=notification, values=_form_values(notification),
                            problems=problems, branches=branches)

    @expose("/new", methods=["GET", "POST"])
    @has_access
    def add(self):
        """Author a new notification (saved as a draft)."""
        return self._form(None)

    @expose("/<int:notification_id>/edit", methods=["GET", "POST"])
    @has_access
    def edit(self, notification_id: int):
        """Change a notification; once sent, its audience, kind and category stay."""
        return self._form(self._get(notification_id))

    @expose("/<int:notification_id>", methods=["GET"])
    @has_access
    def show(self, notification_id: int):
        """The notification as customers see it, its statistics, preview as a customer, send/schedule."""
        notification = self._get(notification_id)
        preview, preview_email = None, (request.args.get("preview_email") or "").strip()
        if preview_email:
            customer = db.session.scalar(select(CrmUser).where(func.lower(CrmUser.email) == preview_email.lower()))
            if customer is None or not customer.is_customer:
                flash(gettext("No customer with the e-mail %(email)s.", email=preview_email), "warning")
            else:
                preview = service.preview_for(_fields_of(notification), customer)
        audience_now = service.audience_size(notification.audience) if notification.sent_at is None else None
        return self._render("show.html", notification=notification, body=render_markdown(notification.body_markdown),
                            stats=service.delivery_stats(notification), preview=preview, preview_email=preview_email,
                            audience_now=audience_now, schedule_value=_local_input(notification.scheduled_at) or
                            _local_input(clock.now()))

    @expose("/<int:notification_id>/send", methods=["POST"])
    @has_access
    def send(self, notification_id: int):
        """Send now to the audience (deliveries at once, e-mail copies through the outbox)."""
        notification = self._get(notification_id)
        try:
            count = service.send_now(notification, actor=current_user)
            flash(gettext("Sent to %(count)d recipients.", count=count), "success")
        except NotificationError as exc:
            db.session.rollback()
            flash(exc.message, "danger")
        return redirect(url_for("NotificationAdminView.show", notification_id=notification_id))

    @expose("/<int:notification_id>/schedule", methods=["POST"])
    @has_access
    def schedule(self, notification_id: int):
        """Send at a chosen time (within a minute of it)."""
        notification = self._get(notification_id)
        try:
            service.schedule(notification, request.form.get("scheduled_at"), actor=current_user)
            flash(gettext("The notification will be sent at %(when)s.", when=timestamp(notification.scheduled_at)),
                  "success")
        except NotificationError as exc:
            db.session.rollback()
            flash(exc.message, "danger")
        return redirect(url_for("NotificationAdminView.show", notification_id=notification_id))

    @expose("/<int:notification_id>/attachments", methods=["POST"])
    @has_access
    def upload(self, notification_id: int):
        """Attach files (stored under generated keys; recipients download them from the portal)."""
        notification = self._get(notification_id)
        files = [f for f in request.files.getlist("files") if f and f.filename]
        if not files:
            flash(gettext("Choose a file to attach."), "warning")
        try:
            for upload in files:
                service.add_attachment(notification, upload.filename, upload.mimetype, upload.read())
            if files:
                flash(gettext("Files attached: %(count)d", count=len(files)), "success")
        except NotificationError as exc:
            db.session.rollback()
            flash(exc.message, "danger")
        return redirect(url_for("NotificationAdminView.show", notification_id=notification_id))


def _branch_choices():
    return [("", "—")] + [(str(branch_id), name) for branch_id, name in
                          db.session.execute(select(Branch.id, Branch.name).order_by(Branch.name))]


class BranchIdField(SelectField):
    """A branch picked by name, stored as its id; empty = every branch (News has no relationship)."""

    def __init__(self, label, **kwargs):
        super().__init__(label, choices=_branch_choices, validators=[Optional()], widget=Select2Widget(), **kwargs)

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        self.data = int(self.data) if self.data and str(self.data).isdigit() else None

    def process_data(self, value):
        self.data = value

    def pre_validate(self, form):
        if self.data is not None and str(self.data) not in {value for value, _label in _branch_choices()}:
            raise ValidationError(gettext("Choose from the list."))

    def _value(self):
        return "" if self.data is None else str(self.data)


def branch_name(branch_id) -> str:
    if branch_id is None:
        return gettext("Every branch")
    branch = db.session.get(Branch, branch_id)  # identity map: one query per branch on a page
    return branch.name if branch is not None else "—"


class NewsView(CrmModelView):
    """News for the portal (C16): title, Markdown text, publishing time, branch (none = every branch)."""

    route_base = "/admin/news"
    datamodel = EagerSQLAInterface(News)
    staff_access = {"Curator": "edit", "Auditor": "read"}
    list_title = _l("News")
    show_title = _l("News item")
    add_title = _l("Add a news item")
    edit_title = _l("Edit the news item")
    label_columns = labels(title=_l("Title"), body_markdown=_l("Text (Markdown)"), published_at=_l("Published"),
                           branch_id=_l("Branch"))
    description_columns = {"body_markdown": _l("Markdown: **bold**, *italic*, lists, [links](https://…). Scripts "
                                               "and HTML styles are removed."),
                           "branch_id": _l("Leave empty to show the news to customers of every branch."),
                           "published_at": _l("Customers see the news from this moment.")}
    list_columns = ["title", "published_at", "branch_id"]
    show_columns = ["title", "published_at", "branch_id", "body_markdown"]
    add_columns = edit_columns = ["title", "body_markdown", "published_at", "branch_id"]
    search_columns = ["title", "published_at"]
    base_order = ("published_at", "desc")
    formatters_columns = {"published_at": timestamp, "body_markdown": render_markdown, "branch_id": branch_name}
    add_form_extra_fields = edit_form_extra_fields = {"branch_id": BranchIdField(_l("Branch"))}

    def _aware(self, item):
        # The form's datetime is the display time zone's wall clock.
        if item.published_at is not None and item.published_at.tzinfo is None:
            item.published_at = item.published_at.replace(tzinfo=_display_tz())
        if item.published_at is None:
            item.published_at = clock.now()

    def pre_add(self, item):
        self._aware(item)
        super().pre_add(item)

    def pre_update(self, item):
        self._aware(item)
        super().pre_update(item)


def register_notification_views(appbuilder) -> None:
    """Add this area's views to `appbuilder` (called by crm.views.register_views)."""
    category = ("Notifications", _l("Notifications"), "fa-bell")
    appbuilder.add_view(NotificationAdminView, "Notifications", label=_l("Notifications"), icon="fa-bell",
                        category=category[0], category_label=category[1], category_icon=category[2])
    appbuilder.add_view(NewsView, "News", label=_l("News"), icon="fa-newspaper-o", category=category[0])
