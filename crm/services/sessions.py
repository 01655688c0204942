"""Server-side session records (SPEC C3): one `UserSession` row per sign-in.

The Flask session cookie carries only the row's random token. Before every request
`check_request()` looks the row up: a row that was ended (by the user, an admin, a password
change, blocking or deletion), is missing, or is past its idle or absolute lifetime signs the
browser out. Lifetimes come from config:

- SESSION_IDLE_MINUTES (30) / SESSION_REMEMBER_IDLE_DAYS (14): inactivity allowed without / with
  "remember me";
- SESSION_ABSOLUTE_HOURS (12) / SESSION_REMEMBER_ABSOLUTE_DAYS (30): the longest a sign-in lasts.

Rows are created from Flask-Login's `user_logged_in` signal, so the portal's sign-in and FAB's
staff sign-in at /login/ are both tracked. `last_seen_at` is written at most once a minute.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app, g, has_request_context, request, session
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import and_, select, update
from sqlalchemy.orm import joinedload

from crm import clock
from crm.extensions import db
from crm.models.user import UserSession
from crm.services import audit

TOKEN_KEY = "crm_session_token"
REMEMBER_KEY = "crm_session_remember"
DEVICE_COOKIE = "crm_device"
DEVICE_COOKIE_DAYS = 400
LAST_SEEN_EVERY = timedelta(minutes=1)

#: end reasons (stored in user_session.end_reason)
SIGNED_OUT = "signed_out"
ENDED_BY_USER = "ended_by_user"
ENDED_BY_ADMIN = "ended_by_admin"
PASSWORD_CHANGED = "password_changed"
ACCOUNT_BLOCKED = "account_blocked"
ACCOUNT_DELETED = "account_deleted"
IDLE = "idle"
EXPIRED = "expired"


@dataclass(frozen=True)
class SessionInfo:
    """A session as the sessions page shows it."""

    id: int
    browser: str
    os: str
    ip_address: str | None
    created_at: datetime
    last_seen_at: datetime
    current: bool


# --- the device cookie (2FA "known device") -------------------------------------------------------

def _device_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="crm-device")


def device_id() -> str:
    """This browser's long-lived device id (from its signed cookie), creating one if needed."""
    if "crm_device_id" in g:
        return g.crm_device_id
    raw = request.cookies.get(DEVICE_COOKIE) if has_request_context() else None
    value = None
    if raw:
        try:
            value = _device_serializer().loads(raw)
        except BadSignature:
            value = None
    if not isinstance(value, str) or len(value) < 16:
        value = secrets.token_urlsafe(24)
        g.crm_device_new = True
    g.crm_device_id = value
    return value


def device_fingerprint(device: str) -> str:
    return hashlib.sha256(f"crm-device:{device}".encode()).hexdigest()


def is_known_device(user_id: int, device: str) -> bool:
    """Whether this user has signed in from this browser before (any session, ended or not)."""
    return db.session.scalar(
        select(UserSession.id).where(UserSession.user_id == user_id,
                                     UserSession.device_fingerprint == device_fingerprint(device)).limit(1)
    ) is not None


def set_device_cookie(response):
    """Give a browser its device cookie once (after_request)."""
    if g.get("crm_device_new") and "crm_device_id" in g:
        response.set_cookie(DEVICE_COOKIE, _device_serializer().dumps(g.crm_device_id),
                            max_age=DEVICE_COOKIE_DAYS * 86400, httponly=True, samesite="Lax",
                            secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")))
        g.crm_device_new = False
    return response


# --- creating, checking and ending sessions ------------------------------------------------------

def _parse_agent(agent: str) -> tuple[str, str]:
    from user_agents import parse

    ua = parse(agent or "")
    browser = " ".join(p for p in (ua.browser.family, ua.browser.version_string) if p and p != "Other")
    system = " ".join(p for p in (ua.os.family, ua.os.version_string) if p and p != "Other")
    return (browser or _("Unknown browser"))[:128], (system or _("Unknown system"))[:128]


def start(user, *, remember: bool = False) -> UserSession:
    """Record a new session for `user` in this browser and put its token in the Flask session."""
    agent = request.user_agent.string if has_request_context() else ""
    browser, system = _parse_agent(agent)
    now = clock.now()
    row = UserSession(user_id=user.id, token=secrets.token_urlsafe(32), browser=browser, os=system,
                      ip_address=(request.remote_addr if has_request_context() else None),
                      device_fingerprint=device_fingerprint(device_id()) if has_request_context() else None,
                      created_at=now, last_seen_at=now)
    db.session.add(row)
    db.session.flush()
    g.crm_session_started = True
    session[TOKEN_KEY] = row.token
    session[REMEMBER_KEY] = bool(remember)
    session.permanent = bool(remember)
    return row


def current_token() -> str | None:
    return session.get(TOKEN_KEY) if has_request_context() else None


def lifetimes(remember: bool) -> tuple[timedelta, timedelta]:
    """(idle, absolute) lifetime of a session with or without "remember me"."""
    config = current_app.config
    if remember:
        return (timedelta(days=config.get("SESSION_REMEMBER_IDLE_DAYS", 14)),
                timedelta(days=config.get("SESSION_REMEMBER_ABSOLUTE_DAYS", 30)))
    return (timedelta(minutes=config.get("SESSION_IDLE_MINUTES", 30)),
            timedelta(hours=config.get("SESSION_ABSOLUTE_HOURS", 12)))


def load_user(user_model, user_id: int):
    """The user (with its roles) for Flask-Login, and in the same statement this browser's session row,
    kept on `g` for `check_request` (one statement instead of three on every signed-in request)."""
    token = current_token()
    statement = select(user_model).where(user_model.id == user_id).options(joinedload(user_model.roles))
    if not token:
        return db.session.scalars(statement).unique().first()
    found = db.session.execute(
        statement.add_columns(UserSession).outerjoin(
            UserSession, and_(UserSession.user_id == user_model.id, UserSession.token == token))
    ).unique().first()
    if found is None:
        return None
    user, row = found
    g.crm_session_row = (token, user.id, row)
    return user


def _session_row(token: str, user) -> UserSession | None:
    """This browser's session row of `user`: the one `load_user` read with the user in this request,
    else looked up (a row of another user counts as missing)."""
    cached = g.pop("crm_session_row", None) if has_request_context() else None
    if cached is not None and cached[0] == token and cached[1] == user.id:
        return cached[2]
    row = db.session.scalar(select(UserSession).where(UserSession.token == token))
    return row if row is not None and row.user_id == user.id else None


def check_request(user) -> str | None:
    """Validate the signed-in browser's session row; None if it may go on, else why it must sign out.

    Touches `last_seen_at` at most once a minute (committed on its own)."""
    token = current_token()
    row = _session_row(token, user) if token else None
    if row is None or row.user_id != user.id:
        return "missing"
    if row.ended_at is not None:
        return row.end_reason or "ended"
    now = clock.now()
    idle, absolute = lifetimes(bool(session.get(REMEMBER_KEY)))
    reason = None
    if now - row.created_at >= absolute:
        reason = EXPIRED
    elif now - row.last_seen_at >= idle:
        reason = IDLE
    if reason is not None:
        row.ended_at, row.end_reason = now, reason
        db.session.commit()
        return reason
    if now - row.last_seen_at >= LAST_SEEN_EVERY:
        row.last_seen_at = now
        db.session.commit()
    return None


def list_for(user_id: int) -> list[SessionInfo]:
    """The user's open sessions, newest activity first, the current one marked."""
    token = current_token()
    rows = db.session.scalars(
        select(UserSession).where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
        .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())
    ).all()
    return [SessionInfo(row.id, row.browser or "", row.os or "", row.ip_address, row.created_at,
                        row.last_seen_at, row.token == token) for row in rows]


def end(user_id: int, session_id: int, *, reason: str = ENDED_BY_USER, actor=None) -> bool:
    """End one open session of the user; False if there is no such open session. Commits."""
    changed = db.session.execute(
        update(UserSession)
        .where(UserSession.id == session_id, UserSession.user_id == user_id, UserSession.ended_at.is_(None))
        .values(ended_at=clock.now(), end_reason=reason)
    ).rowcount
    if changed:
        audit.record("session.end", actor=actor, subject_type="user", subject_id=user_id,
                     detail={"session_id": session_id, "reason": reason})
    db.session.commit()
    return bool(changed)


def end_all(user_id: int, reason: str, *, except_token: str | None = None, actor=None,
            commit: bool = True) -> int:
    """End every open session of the user (but the one with `except_token`); returns how many.

    Blocking and deleting an account call this (`commit=False` joins the caller's transaction)."""
    query = update(UserSession).where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
    if except_token:
        query = query.where(UserSession.token != except_token)
    count = db.session.execute(query.values(ended_at=clock.now(), end_reason=reason)).rowcount
    if count:
        audit.record("session.end_all", actor=actor, subject_type="user", subject_id=user_id,
                     detail={"count": count, "reason": reason, "kept_current": bool(except_token)})
    if commit:
        db.session.commit()
    return count


def end_current(reason: str = SIGNED_OUT) -> None:
    """End this browser's session row (sign-out); the caller clears the Flask session."""
    token = current_token()
    if token:
        db.session.execute(update(UserSession).where(UserSession.token == token, UserSession.ended_at.is_(None))
                           .values(ended_at=clock.now(), end_reason=reason))


def sign_out_message(reason: str) -> str:
    """What to tell a browser whose session just stopped working."""
    if reason == IDLE:
        return _("Your session ended after a period of inactivity. Please sign in again.")
    if reason == EXPIRED:
        return _("Your session has expired. Please sign in again.")
    return _("Your session was ended. Please sign in again.")
