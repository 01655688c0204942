"""Back office: the curator desk (SPEC B4) — the appeals queue and the appeal card.

Thin: parse → service → render. What a user sees is decided by `crm.services.appeal_desk` (a curator
sees the branches they curate, Admin and Auditor everything; an appeal outside the scope is a 404,
by id and by file URL alike); what they do goes through `crm.services.appeal_desk_actions`, which
calls the appeals service (`workflows.appeals`), the only writer of appeal state. Curators act;
Auditors read (queue, card, files) without marking anything read.
"""
from __future__ import annotations

from urllib.parse import quote

from flask import Response, abort, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from crm import clock
from crm.services import appeal_desk as desk
from crm.services import appeal_desk_actions as actions
from crm.services.appeal_attachments import IMAGE_TYPES, open_attachment
from crm.storage import StorageError

APPEALS_DESK_ACCESS = {"Curator": "edit", "Auditor": "read"}
#: the form's fields that the card keeps when it is shown again after a refused reply
MAX_BODY_ECHO = 20_000


class AppealDeskView(BaseView):
    """The queue of appeals with filters and sorting, and the appeal card where curators work."""

    route_base = "/admin/appeals"
    default_view = "list"
    staff_access = APPEALS_DESK_ACCESS
    method_permission_name = {"list": "list", "show": "show", "download": "download", "reply": "reply",
                              "transition": "transition", "assign": "assign", "grant": "grant"}

    def _can(self, permission: str) -> bool:
        return self.appbuilder.sm.has_access(f"can_{permission}", self.class_permission_name)

    @expose("/")
    @has_access
    def list(self):
        """Appeals the user may see, filtered and sorted (SLA due first by default), one page."""
        try:
            chosen, errors = desk.parse_filter(request.args), []
        except desk.DeskError as error:
            chosen, errors = error.filter, error.messages
        page = desk.queue(current_user, chosen)
        return self.render_template("appeals_desk/queue.html", queue=page, f=page.filter, filter_errors=errors)

    def _card(self, appeal, *, status: int = 200, reply_body: str = "", reply_errors=(), canned_error=None,
              internal: bool = False, needs_decision: bool = False):
        can_act = self._can("reply")
        if can_act and appeal.staff_unread:
            actions.mark_read(appeal)
        canned_id = request.args.get("canned")
        if canned_id and not reply_body:
            try:
                reply_body = actions.canned_text(appeal, canned_id, current_user)
            except desk.CannedReplyError as error:
                canned_error = error.message
        card = actions.card(appeal, current_user)
        return self.render_template(
            "appeals_desk/card.html", appeal=appeal, card=card, now=clock.now(), can_act=can_act,
            can_assign=self._can("assign"), can_grant=self._can("grant") and card.grant_transition is not None,
            reply_body=reply_body[:MAX_BODY_ECHO], reply_errors=list(reply_errors), canned_error=canned_error,
            internal=internal, needs_decision=needs_decision, chosen_canned=canned_id, image_types=IMAGE_TYPES), status

    def _appeal(self, appeal_id: int):
        appeal = desk.appeal_for_staff(current_user, appeal_id)
        if appeal is None:
            abort(404)
        return appeal

    @expose("/<int:appeal_id>")
    @has_access
    def show(self, appeal_id: int):
        """The appeal card; opening it marks it read for staff; `?canned=<id>` puts a canned reply in the box."""
        return self._card(self._appeal(appeal_id))

    @expose("/<int:appeal_id>/files/<int:attachment_id>")
    @has_access
    def download(self, appeal_id: int, attachment_id: int):
        """A file of an appeal in the user's scope; images inline on request, anything else as a download."""
        attachment = desk.attachment_for_staff(current_user, appeal_id, attachment_id)
        if attachment is None:
            abort(404)
        try:
            stream = open_attachment(attachment)
        except StorageError:
            abort(404)
        image = attachment.content_type in IMAGE_TYPES
        inline = image and request.args.get("inline") == "1"
        response = Response(stream, mimetype=attachment.content_type if image else "application/octet-stream",
                            direct_passthrough=True)
        ascii_name = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "._-") else "_"
                             for ch in attachment.filename)
        response.headers["Content-Disposition"] = (
            f"{'inline' if inline else 'attachment'}; filename=\"{ascii_name}\"; "
            f"filename*=UTF-8''{quote(attachment.filename)}")
        response.headers["Content-Length"] = str(attachment.size)
        response.headers["Cache-Control"] = "private, no-store"
        return response

    @expose("/<int:appeal_id>/reply", methods=["POST"])
    @has_access
    def reply(self, appeal_id: int):
        """A public reply or an internal note, with files; a public one may ask for the customer's decision."""
        appeal = self._appeal(appeal_id)
        body = request.form.get("body", "")
        internal = request.form.get("visibility") == "internal"
        needs_decision = request.form.get("needs_decision") == "1"
        try:
            actions.reply(appeal, current_user, body, request.files.getlist("files"), internal=internal,
                          needs_decision=needs_decision)
        except actions.ActionError as error:
            return self._card(desk.appeal_for_staff(current_user, appeal_id), status=400, reply_body=body,
                              reply_errors=[error.message], internal=internal, needs_decision=needs_decision)
        flash(gettext("The internal note was added.") if internal else gettext("The reply was sent to the customer."),
              "success")
        return redirect(url_for("AppealDeskView.show", appeal_id=appeal_id) + "#dialogue")

    @expose("/<int:appeal_id>/transition", methods=["POST"])
    @has_access
    def transition(self, appeal_id: int):
        """One of the transitions the appeal's workflow allows this user (anything else is refused)."""
        appeal = self._appeal(appeal_id)
        try:
            label = actions.transition(appeal, current_user, request.form.get("transition_id"),
                                       request.form.get("comment"))
        except actions.ActionError as error:
            flash(error.message, "danger")
        else:
            flash(gettext("Done: %(action)s.", action=label), "success")
        return redirect(url_for("AppealDeskView.show", appeal_id=appeal_id))

    @expose("/<int:appeal_id>/assign", methods=["POST"])
    @has_access
    def assign(self, appeal_id: int):
        """Assign the appeal to a curator of its branch, to oneself ("take it myself") or to nobody."""
        appeal = self._appeal(appeal_id)
        choice = "me" if request.form.get("take") else request.form.get("assignee_id", "")
        try:
            name = actions.assign(appeal, current_user, choice)
        except actions.ActionError as error:
            flash(error.message, "danger")
        else:
            flash(gettext("The appeal is assigned to %(name)s.", name=name) if name
                  else gettext("The appeal is no longer assigned."), "success")
        return redirect(url_for("AppealDeskView.show", appeal_id=appeal_id))

    @expose("/<int:appeal_id>/grant-administrator", methods=["POST"])
    @has_access
    def grant(self, appeal_id: int):
        """"Access rights" appeals: make the author the contract's administrator, reply and close, at once."""
        appeal = self._appeal(appeal_id)
        try:
            actions.grant_administrator(appeal, current_user)
        except actions.ActionError as error:
            flash(error.message, "danger")
        else:
            flash(gettext("The administrator role was granted, the customer was told, and the appeal is closed."),
                  "success")
        return redirect(url_for("AppealDeskView.show", appeal_id=appeal_id))


def register_appeals_desk_views(appbuilder) -> None:
    """Add the desk under the "Appeals" menu category and put that category first in the menu."""
    appbuilder.add_view(AppealDeskView, "Appeal queue", label=_l("Appeal queue"), icon="fa-inbox",
                        category="Appeals", category_label=_l("Appeals"), category_icon="fa-comments")
    items = appbuilder.menu.get_list()
    appeals = [item for item in items if item.name == "Appeals"]
    items[:] = appeals + [item for item in items if item.name != "Appeals"]
