"""Portal section: notifications and news (SPEC C16, seed 004 §12, seed 002).

The list (unread first, then read, each newest first), the customer's actions on their own deliveries
(read, confirm a modal, close a banner) as POST forms that also answer `fetch` with JSON, attachment
downloads for recipients only, and the news with an unread mark. The bell, modals and banners of every
page come from `layout_state()`, called by the portal's context processor.
"""
from __future__ import annotations

import os
from urllib.parse import urlsplit

from flask import abort, flash, g, jsonify, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm.services import inbox
from crm.services.markdown_render import render_markdown
from crm.storage import StorageError, get_storage
from customer_portal import account_route, bp
from customer_portal.context import safe_next


def layout_state() -> dict:
    """The bell and appeals counts, pending modals and open banners for the layout, once per request, in
    one statement."""
    if "portal_inbox" not in g:
        counts, top = inbox.layout_inbox(current_user)
        g.portal_inbox = {"bell": counts, "inbox_modals": top.modals,
                          "inbox_banners": top.banners, "inbox_goto": _safe_goto}
    return g.portal_inbox


def _page_arg() -> int:
    try:
        return max(1, int(request.args.get("page", "1")))
    except ValueError:
        return 1


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


def _safe_goto(url: str | None) -> str | None:
    """A staff-authored "go to" link, if it is http(s) or a path on this site (never javascript: etc.)."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    if parts.scheme in {"http", "https"} and parts.netloc:
        return url.strip()
    if not parts.scheme and not parts.netloc and url.startswith("/") and not url.startswith("//"):
        return url
    return None


def _done(message: str | None = None, goto: str | None = None):
    """Answer a POST action: JSON for the page's script, else back where the form was sent from."""
    if _wants_json():
        return jsonify(ok=True, bell=inbox.bell_count(current_user), goto=goto)
    if goto:
        return redirect(goto)
    return redirect(safe_next(request.form.get("next")) or url_for("portal.notifications"))


def _refused(exc: inbox.InboxError):
    if isinstance(exc, inbox.NotFoundError):
        abort(404)
    message = _("This action does not apply to this notification.")
    if _wants_json():
        return jsonify(ok=False, error=message), 400
    flash(message, "warning")
    return redirect(url_for("portal.notifications"))


def _delivery_action(act, delivery_id: int, goto=None):
    """Run an inbox action (`act(user, delivery_id)`) on the user's own delivery: a refusal answers with
    its message (404 for someone else's); else `_done`, going on to `goto(notification)` when given."""
    try:
        notification = act(current_user, delivery_id)
    except inbox.InboxError as exc:
        return _refused(exc)
    return _done(goto=goto(notification) if goto else None)


@bp.route("/notifications")
@account_route
def notifications():
    """The user's notifications, unread first."""
    page = inbox.inbox(current_user, _page_arg())
    return render_template("portal/notifications/list.html", page=page)


@bp.route("/notifications/read-all", methods=["POST"])
@account_route
def notifications_read_all():
    """Mark every notification read."""
    inbox.mark_all_read(current_user)
    return _done()


@bp.route("/notifications/<int:delivery_id>/read", methods=["POST"])
@account_route
def notification_read(delivery_id: int):
    """Mark one notification read (also sent by the page when its text is unfolded)."""
    return _delivery_action(inbox.mark_read, delivery_id)


@bp.route("/notifications/<int:delivery_id>/confirm", methods=["POST"])
@account_route
def notification_confirm(delivery_id: int):
    """Confirm a modal notification; with go=1 continue to its "go to" link."""
    go_on = request.form.get("go") == "1"
    return _delivery_action(inbox.confirm_modal, delivery_id,
                            goto=(lambda notification: _safe_goto(notification.goto_url)) if go_on else None)


@bp.route("/notifications/<int:delivery_id>/dismiss", methods=["POST"])
@account_route
def notification_dismiss(delivery_id: int):
    """Close a top banner; it stays in the list."""
    return _delivery_action(inbox.dismiss_banner, delivery_id)


@bp.route("/notifications/attachments/<int:attachment_id>")
@account_route
def notification_attachment(attachment_id: int):
    """Download a file attached to a notification the user received (others: 404)."""
    try:
        attachment = inbox.attachment_for(current_user, attachment_id)
        handle = get_storage().open(attachment.storage_key)
    except (inbox.NotFoundError, StorageError, OSError):
        abort(404)
    return send_file(handle, mimetype=attachment.content_type or "application/octet-stream", as_attachment=True,
                     download_name=os.path.basename(attachment.filename) or "file")


@bp.route("/news")
@account_route
def news():
    """Published news, newest first, unread ones marked."""
    page = inbox.news_list(current_user, _page_arg())
    return render_template("portal/notifications/news.html", page=page)


@bp.route("/news/<int:news_id>")
@account_route
def news_item(news_id: int):
    """One news item; opening it marks it read."""
    try:
        item = inbox.mark_news_read(current_user, news_id)
    except inbox.NotFoundError:
        abort(404)
    return render_template("portal/notifications/news_item.html", item=item, body=render_markdown(item.body_markdown))
