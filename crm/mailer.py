"""Sending e-mail: an SMTP mailer configured by SMTP_URL, behind a one-method interface."""
from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlparse


class MailerError(Exception):
    """The message could not be handed to the mail server.

    `permanent` is True when the server refused this message for good (a 5xx reply to its
    recipient or its content): retrying only repeats the refusal. Everything else is worth
    retrying: connection refused, timeouts, 4xx replies, and refusals that come from our own
    settings (login, sender address), which an operator fixes once for every message.
    """

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


def _is_permanent(exc: Exception) -> bool:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return bool(codes) and all(code >= 500 for code in codes)
    if isinstance(exc, smtplib.SMTPDataError):
        return exc.smtp_code >= 500
    return False


class SmtpMailer:
    """smtp://user:pass@host:25, smtp://host:587?starttls=1 or smtps://host:465."""

    def __init__(self, url: str, timeout: float = 15.0):
        parsed = urlparse(url)
        if parsed.scheme not in {"smtp", "smtps"}:
            raise ValueError(f"unsupported SMTP_URL scheme: {parsed.scheme}")
        self.use_ssl = parsed.scheme == "smtps"
        self.host = parsed.hostname or "localhost"
        self.port = parsed.port or (465 if self.use_ssl else 25)
        self.username = unquote(parsed.username) if parsed.username else None
        self.password = unquote(parsed.password) if parsed.password else None
        self.starttls = parse_qs(parsed.query).get("starttls", ["0"])[0] in {"1", "true", "yes"}
        self.timeout = timeout

    def send(self, message: EmailMessage) -> None:
        """Deliver one message or raise MailerError."""
        try:
            if self.use_ssl:
                client = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                          context=ssl.create_default_context())
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with client:
                if self.starttls:
                    client.starttls(context=ssl.create_default_context())
                if self.username:
                    client.login(self.username, self.password or "")
                client.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise MailerError(f"{exc.__class__.__name__}: {exc}", permanent=_is_permanent(exc)) from exc
