"""Payment providers behind one small interface (DESIGN habit 8), and the built-in test acquirer.

A provider does three things for the payment flow (crm/services/payment_flow.py):

- `create_payment(intent)` → the URL the customer's browser is sent to (the bank's card page);
- `verify_callback(payload, signature)` → a `CallbackEvent` when the server-to-server notification
  is authentic and fresh, `CallbackRejectedError` otherwise;
- `charge_saved_card(intent, card)` (optional) → the URL of the bank's confirmation page for a card
  saved earlier (the card data stays at the bank; we keep its token and last four digits).

`PAYMENT_PROVIDER=test` selects the **test acquirer**: a simulated bank living in this app under
`/test-acquirer/` (crm/test_acquirer.py). Its checkout link carries a token signed with
`PAYMENT_TEST_SECRET` (derived from SECRET_KEY when unset), its callbacks are JSON payloads with a
Unix `timestamp`, signed with HMAC-SHA256 over the canonical JSON (sorted keys, no spaces, UTF-8)
and sent in the `X-Payment-Signature` header. Cards ending in 0002 are declined, others approved.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Protocol

from flask import current_app, url_for
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeSerializer

from crm import clock
from crm.services import ServiceError

SIGNATURE_HEADER = "X-Payment-Signature"
#: a card number ending like this is declined by the test acquirer (document it on its page)
DECLINED_SUFFIX = "0002"
SUCCEEDED, DECLINED = "succeeded", "declined"


class CallbackRejectedError(ServiceError):
    """A callback that is not authentic, not fresh, or does not match its payment: refused with 400."""

    def __init__(self, reason: str):
        super().__init__(reason, status=400)
        self.reason = reason


@dataclass(frozen=True)
class CallbackEvent:
    """What a verified callback says happened to one payment at the provider."""

    provider_payment_id: str
    status: str                       # SUCCEEDED | DECLINED
    amount: Decimal
    timestamp: int
    card_token: str | None = None
    card_last4: str | None = None
    card_brand: str | None = None
    reason: str | None = None


class PaymentProvider(Protocol):
    name: str

    def new_payment_id(self) -> str: ...
    def create_payment(self, intent) -> str: ...
    def verify_callback(self, payload: dict, signature: str) -> CallbackEvent: ...
    def charge_saved_card(self, intent, card) -> str: ...


def canonical_json(payload: dict) -> bytes:
    """The bytes a callback signature covers: sorted keys, no spaces, UTF-8."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sign(payload: dict, secret: str) -> str:
    """HMAC-SHA256 of the canonical payload, hex."""
    return hmac.new(secret.encode("utf-8"), canonical_json(payload), hashlib.sha256).hexdigest()


def test_secret() -> str:
    """PAYMENT_TEST_SECRET, or a value derived from SECRET_KEY (never SECRET_KEY itself)."""
    configured = current_app.config.get("PAYMENT_TEST_SECRET")
    if configured:
        return configured
    key = str(current_app.config["SECRET_KEY"]).encode("utf-8")
    return hmac.new(key, b"crm.payment.test-acquirer", hashlib.sha256).hexdigest()


def luhn_valid(number: str) -> bool:
    """The Luhn check digit of a card number (digits only, 12–19 of them)."""
    if not number.isdigit() or not 12 <= len(number) <= 19:
        return False
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char)
        if index % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def card_brand(number: str) -> str:
    """The payment system by the first digits (for the saved-card label)."""
    if number.startswith("4"):
        return "Visa"
    if number[:2] in {"51", "52", "53", "54", "55"} or "2221" <= number[:4] <= "2720":
        return "Mastercard"
    if "2200" <= number[:4] <= "2204":
        return "Мир"
    return "Card"


class TestAcquirer:
    """The simulated bank: checkout links signed with the test secret, signed JSON callbacks."""

    __test__ = False  # not a pytest test class
    name = "test"

    def __init__(self, secret: str, max_age: int):
        self.secret = secret
        self.max_age = max_age

    def _serializer(self) -> URLSafeSerializer:
        return URLSafeSerializer(self.secret, salt="test-acquirer-checkout")

    def new_payment_id(self) -> str:
        return "tst_" + secrets.token_hex(12)

    def checkout_token(self, intent, saved_card_token: str | None = None) -> str:
        """What the bank is told about the order: its id, amount, description and where to go back."""
        data = {"id": intent.provider_payment_id, "amount": str(intent.amount),
                "description": _("Payment by contract No. %(number)s", number=intent.contract.number),
                "return_url": url_for("portal.pay_return", intent_id=intent.id),
                "callback_url": url_for("portal.payment_callback", provider=self.name)}
        if saved_card_token:
            data["card_token"] = saved_card_token
        return self._serializer().dumps(data)

    def read_checkout(self, token: str) -> dict | None:
        """The order behind a checkout token, or None when it was not issued by us."""
        try:
            data = self._serializer().loads(token)
        except BadSignature:
            return None
        return data if isinstance(data, dict) else None

    def create_payment(self, intent) -> str:
        return url_for("test_acquirer.checkout", token=self.checkout_token(intent))

    def charge_saved_card(self, intent, card) -> str:
        return url_for("test_acquirer.checkout", token=self.checkout_token(intent, card.provider_token))

    def signed_callback(self, data: dict) -> tuple[dict, str]:
        """A callback payload stamped with the current time, and its signature (the bank's side)."""
        payload = dict(data, timestamp=int(clock.now().timestamp()))
        return payload, sign(payload, self.secret)

    def verify_callback(self, payload: dict, signature: str) -> CallbackEvent:
        if not isinstance(payload, dict) or not isinstance(signature, str) or not signature:
            raise CallbackRejectedError("missing payload or signature")
        if not hmac.compare_digest(sign(payload, self.secret), signature.strip().lower()):
            raise CallbackRejectedError("bad signature")
        try:
            timestamp = int(payload["timestamp"])
            amount = Decimal(str(payload["amount"]))
            payment_id = str(payload["payment_id"])
            status = str(payload["status"])
        except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
            raise CallbackRejectedError("malformed payload") from exc
        if abs(clock.now().timestamp() - timestamp) > self.max_age:
            raise CallbackRejectedError("stale timestamp")
        if status not in {SUCCEEDED, DECLINED}:
            raise CallbackRejectedError("unknown status")
        return CallbackEvent(payment_id, status, amount, timestamp, payload.get("card_token"),
                             payload.get("card_last4"), payload.get("card_brand"), payload.get("reason"))


def get_provider() -> PaymentProvider:
    """The configured provider (PAYMENT_PROVIDER); only the test acquirer is built in."""
    name = current_app.config.get("PAYMENT_PROVIDER", "test")
    if name == "test":
        return TestAcquirer(test_secret(), int(current_app.config.get("PAYMENT_CALLBACK_MAX_AGE", 300)))
    raise RuntimeError(f"unknown PAYMENT_PROVIDER {name!r}")
