"""Back office «Настройки → Шаблоны сообщений» (SPEC B7): edit, preview and reset system messages.

Admin only. Thin: every rule (what an event offers, what a template may do) lives in
crm.services.message_templates; this view parses the form, calls it and shows its problems.
"""
from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from crm.services import message_templates as mt
from crm.services.message_events import EVENTS, LOCALES

LOCALE_LABELS = {"ru": _l("Russian"), "en": _l("English")}


def _checked(event: str, locale: str):
    if event not in EVENTS or locale not in LOCALES:
        abort(404)
    return EVENTS[event]


class MessageTemplateView(BaseView):
    """System messages by event and language: the default text or an admin's edit."""

    route_base = "/admin/message-templates"
    default_view = "list"
    staff_access: dict[str, str] = {}   # Admin only: these texts reach every customer
    method_permission_name = {"list": "list", "edit": "edit", "reset": "edit"}

    @expose("/")
    @has_access
    def list(self):
        """Every event × language, with whether an edit is in force."""
        return self.render_template("message_templates/list.html", rows=mt.overview(), locales=LOCALE_LABELS)

    def _form(self, event: str, locale: str, *, subject: str, body: str, send_email: bool, send_bell: bool,
              problems=(), preview=None, status: int = 200):
        spec = EVENTS[event]
        row = mt.edited_row(event, locale)
        page = self.render_template("message_templates/edit.html", spec=spec, event=event, locale=locale,
                                    locale_label=LOCALE_LABELS[locale], subject=subject, body=body,
                                    send_email=send_email, send_bell=send_bell, problems=list(problems),
                                    preview=preview, edited=row is not None)
        return page, status

    @expose("/<event>/<locale>", methods=["GET", "POST"])
    @has_access
    def edit(self, event: str, locale: str):
        """GET: the form with the text in force. POST: preview (action=preview) or save."""
        spec = _checked(event, locale)
        if request.method == "GET":
            subject, body, row = mt.current_source(event, locale)
            return self._form(event, locale, subject=subject, body=body,
                              send_email=True if row is None else row.send_email,
                              send_bell=True if row is None else row.send_bell)
        subject, body = request.form.get("subject", ""), request.form.get("body", "").replace("\r\n", "\n")
        send_email = spec.mandatory_email or bool(request.form.get("send_email"))
        send_bell = bool(request.form.get("send_bell"))
        values = {"subject": subject, "body": body, "send_email": send_email, "send_bell": send_bell}
        try:
            if request.form.get("action") == "preview":
                return self._form(event, locale, preview=mt.preview(event, locale, subject, body), **values)
            mt.save_template(event, locale, subject, body, send_email=send_email, send_bell=send_bell,
                             actor=current_user)
        except mt.MessageTemplateError as error:
            return self._form(event, locale, problems=error.problems, status=400, **values)
        flash(gettext("Template “%(name)s” (%(locale)s) saved.", name=spec.label, locale=LOCALE_LABELS[locale]),
              "success")
        return redirect(url_for("MessageTemplateView.list"))

    @expose("/<event>/<locale>/reset", methods=["POST"])
    @has_access
    def reset(self, event: str, locale: str):
        """Drop the edit: the default text applies again."""
        spec = _checked(event, locale)
        if mt.reset_template(event, locale, actor=current_user):
            flash(gettext("Template “%(name)s” (%(locale)s) is back to the default text.", name=spec.label,
                          locale=LOCALE_LABELS[locale]), "success")
        else:
            flash(gettext("This template already uses the default text."), "info")
        return redirect(url_for("MessageTemplateView.list"))


def register_template_views(appbuilder) -> None:
    """Add this area's views to `appbuilder` (called by crm.views.register_views)."""
    appbuilder.add_view(MessageTemplateView, "Message templates", label=_l("Message templates"),
                        icon="fa-envelope-o", category="Settings", category_label=_l("Settings"),
                        category_icon="fa-sliders")
    # The operations dashboard (its module, crm/views/operations.py, holds the outbox and audit views that
    # crm.views.register_views adds); registered here, in this session's hook, under the same menu.
    from crm.views.operations import OperationsView

    appbuilder.add_view(OperationsView, "Queues and jobs", label=_l("Queues and jobs"), icon="fa-tasks",
                        category="Operations", category_label=_l("Operations"), category_icon="fa-cogs")
