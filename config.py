"""Settings from environment variables; the defaults run with nothing else installed.

Defaults are the embedded setup: SQLite in ./instance, jobs in-process, mail kept in the outbox.
Production sets DATABASE_URL (PostgreSQL), REDIS_URL, SMTP_URL and SECRET_KEY.
"""
import os
from datetime import timedelta
from pathlib import Path

from flask_appbuilder.const import AUTH_DB

BASE_DIR = Path(__file__).resolve().parent


def _env(name: str, default: str | None = None) -> str | None:
    """An environment variable, treating an empty value (as in .env.example) as unset."""
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _env_bool(name: str, default: bool) -> bool:
    value = _env(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


class Config:
    SECRET_KEY = _env("SECRET_KEY", "dev-insecure-change-me")
    SQLALCHEMY_DATABASE_URI = _env(
        "DATABASE_URL", f"sqlite:///{BASE_DIR / 'instance' / 'crm.sqlite'}"
    )
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    REDIS_URL = _env("REDIS_URL")
    RQ_QUEUE = _env("RQ_QUEUE", "crm")
    SMTP_URL = _env("SMTP_URL")
    MAIL_FROM = _env("MAIL_FROM", "ЛК Энергосбыт <noreply@energo.example>")
    OUTBOX_MAX_ATTEMPTS = int(_env("OUTBOX_MAX_ATTEMPTS", "8"))
    OUTBOX_SWEEP_AFTER_SECONDS = int(_env("OUTBOX_SWEEP_AFTER_SECONDS", "120"))
    STORAGE_URL = _env("STORAGE_URL", f"file://{BASE_DIR / 'instance' / 'files'}")
    PUBLIC_BASE_URL = _env("PUBLIC_BASE_URL", "http://127.0.0.1:5000")
    # S3-compatible storage (STORAGE_URL=s3://bucket/prefix): the endpoint (empty = AWS itself); boto3
    # reads AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_DEFAULT_REGION from the environment.
    S3_ENDPOINT_URL = _env("S3_ENDPOINT_URL")
    # Appeals (B4): an appeal whose SLA is breached is e-mailed to its branch lead; when true it is
    # also reassigned to the lead.
    APPEAL_ESCALATION_REASSIGN = _env_bool("APPEAL_ESCALATION_REASSIGN", False)
    # Help (C15): where "Ask a question" goes when the asker chose no contract (else to the branch's e-mail).
    CONTACT_CENTRE_EMAIL = _env("CONTACT_CENTRE_EMAIL", "contact-centre@energo.example")
    # Payments (SPEC C11): the provider ("test" = the built-in test acquirer at /test-acquirer/), the
    # secret its callbacks are signed with (derived from SECRET_KEY when unset), how old a callback
    # may be, and the largest amount of one payment.
    PAYMENT_PROVIDER = _env("PAYMENT_PROVIDER", "test")
    PAYMENT_TEST_SECRET = _env("PAYMENT_TEST_SECRET")
    PAYMENT_CALLBACK_MAX_AGE = int(_env("PAYMENT_CALLBACK_MAX_AGE", "300"))
    PAYMENT_MAX_AMOUNT = _env("PAYMENT_MAX_AMOUNT", "100000000.00")
    # Exports (SPEC W3): more rows than this run as a background task with a progress bar; results
    # of at least EXPORT_EMAIL_MIN_ROWS rows are also e-mailed with a link.
    EXPORT_INLINE_MAX_ROWS = int(_env("EXPORT_INLINE_MAX_ROWS", "5000"))
    EXPORT_EMAIL_MIN_ROWS = int(_env("EXPORT_EMAIL_MIN_ROWS", "20000"))
    # A task still "running" this long after it started lost its worker (killed, redeployed): it is
    # queued once more, and fails with a message the second time. A task still "queued" this long
    # lost its queue entry (Redis restarted without persistence): it is enqueued again.
    TASK_STUCK_AFTER_MINUTES = int(_env("TASK_STUCK_AFTER_MINUTES", "15"))
    # Files between two pages of a wizard (crm.storage.TRANSIENT_AREAS) are removed after this long;
    # the wizard's own state expires after a day, so nothing can refer to them any more.
    TRANSIENT_UPLOAD_MAX_AGE_HOURS = int(_env("TRANSIENT_UPLOAD_MAX_AGE_HOURS", "48"))

    # Flask-AppBuilder: Alembic owns the schema, our security manager extends the user.
    APP_NAME = "Энергосбыт CRM"
    FAB_CREATE_DB = False
    FAB_SECURITY_MANAGER_CLASS = "crm.security.CrmSecurityManager"
    FAB_ADD_SECURITY_API = False
    FAB_API_SWAGGER_UI = True
    AUTH_TYPE = AUTH_DB
    AUTH_ROLE_ADMIN = "Admin"
    AUTH_ROLE_PUBLIC = "Public"
    AUTH_USER_REGISTRATION = False
    FAB_BASE_TEMPLATE = "appbuilder/baselayout.html"
    FAB_INDEX_VIEW = "crm.views.index.BackOfficeIndexView"

    # Flask-Babel: Russian by default, English available.
    BABEL_DEFAULT_LOCALE = _env("BABEL_DEFAULT_LOCALE", "ru")
    BABEL_DEFAULT_TIMEZONE = _env("BABEL_DEFAULT_TIMEZONE", "Europe/Moscow")
    BABEL_TRANSLATION_DIRECTORIES = "translations"
    LANGUAGES = {
        "ru": {"flag": "ru", "name": "Русский"},
        "en": {"flag": "gb", "name": "English"},
    }

    WTF_CSRF_ENABLED = True
    WTF_CSRF_TIME_LIMIT = None
    RATELIMIT_ENABLED = _env_bool("RATELIMIT_ENABLED", True)
    RATELIMIT_STORAGE_URI = _env("RATELIMIT_STORAGE_URI", "memory://")
    AUTH_RATE_LIMITED = True
    AUTH_RATE_LIMIT = "10 per 20 second"

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_DURATION = timedelta(days=30)
    # Server-side session lifetimes (crm/services/sessions.py). "Remember me" keeps the session
    # cookie after the browser closes (PERMANENT_SESSION_LIFETIME) and extends the idle limit.
    SESSION_IDLE_MINUTES = int(_env("SESSION_IDLE_MINUTES", "30"))
    SESSION_ABSOLUTE_HOURS = int(_env("SESSION_ABSOLUTE_HOURS", "12"))
    SESSION_REMEMBER_IDLE_DAYS = int(_env("SESSION_REMEMBER_IDLE_DAYS", "14"))
    SESSION_REMEMBER_ABSOLUTE_DAYS = int(_env("SESSION_REMEMBER_ABSOLUTE_DAYS", "30"))
    PERMANENT_SESSION_LIFETIME = timedelta(days=SESSION_REMEMBER_ABSOLUTE_DAYS)
    MAX_CONTENT_LENGTH = 50 * 1024 * 1024

    TESTING = False


class DevConfig(Config):
    DEBUG = True


class TestConfig(Config):
    TESTING = True
    SECRET_KEY = "test-secret"
    WTF_CSRF_ENABLED = False
    RATELIMIT_ENABLED = False
    SQLALCHEMY_DATABASE_URI = _env("TEST_DATABASE_URL", "sqlite://")
    # Hashing strength is not what tests check; scrypt would dominate their run time.
    FAB_PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"
    REDIS_URL = None
    SMTP_URL = None


class ProdConfig(Config):
    SESSION_COOKIE_NAME = "__Host-crm_session"  # Secure, no Domain, Path=/: cannot be set by a subdomain
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    PREFERRED_URL_SCHEME = "https"
    HSTS = True


CONFIGS = {"dev": DevConfig, "test": TestConfig, "prod": ProdConfig}
