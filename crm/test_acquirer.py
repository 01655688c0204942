"""The built-in test acquirer: a simulated bank under /test-acquirer/ (PAYMENT_PROVIDER=test).

No real money moves. The checkout link carries the order signed by the payment provider
(crm/services/payment_providers.py); the card form checks the number with Luhn, the expiry and the
CVC; a card ending in 0002 is declined, any other valid card approved. The bank then notifies the
shop server-to-server with a JSON payload signed with HMAC-SHA256 (header X-Payment-Signature) —
being part of this app, it posts the notification through the app's own WSGI stack in-process (a
real bank would post over the network; the portal's callback endpoint cannot tell the difference) —
and shows the outcome with a link back to the portal.
"""
from __future__ import annotations

import contextvars
import hashlib
import json
import re

from flask import Blueprint, Flask, abort, current_app, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.test import Client

from crm import clock
from crm.services.payment_providers import (
    DECLINED,
    DECLINED_SUFFIX,
    SIGNATURE_HEADER,
    SUCCEEDED,
    TestAcquirer,
    card_brand,
    get_provider,
    luhn_valid,
)

bp = Blueprint("test_acquirer", __name__, url_prefix="/test-acquirer")

_EXPIRY = re.compile(r"^(\d{1,2})\s*/\s*(\d{2}|\d{4})$")


def register_test_acquirer(app: Flask) -> None:
    """Mount the test bank when it is the configured provider."""
    if app.config.get("PAYMENT_PROVIDER", "test") == "test":
        app.register_blueprint(bp)


def _render(template: str, status: int = 200, **context):
    return render_template(template, lang=str(get_locale() or "ru"), **context), status


def _acquirer() -> TestAcquirer:
    provider = get_provider()
    if not isinstance(provider, TestAcquirer):
        abort(404)
    return provider


def validate_card(form) -> tuple[dict[str, str], dict[str, str]]:
    """The typed card fields (cleaned) and a message per bad field."""
    number = re.sub(r"[\s-]", "", form.get("number", ""))[:32]
    expiry = form.get("expiry", "").strip()[:7]
    cvc = form.get("cvc", "").strip()[:4]
    holder = " ".join(form.get("holder", "").split())[:64]
    errors: dict[str, str] = {}
    if not luhn_valid(number):
        errors["number"] = _("Enter a valid card number (12 to 19 digits).")
    match = _EXPIRY.match(expiry)
    if not match or not 1 <= int(match.group(1)) <= 12:
        errors["expiry"] = _("Enter the expiry date as MM/YY.")
    else:
        month, year = int(match.group(1)), int(match.group(2))
        year = year + 2000 if year < 100 else year
        today = clock.today()
        if (year, month) < (today.year, today.month):
            errors["expiry"] = _("The card has expired.")
    if not re.fullmatch(r"\d{3}", cvc):
        errors["cvc"] = _("Enter the three digits from the back of the card.")
    if not re.fullmatch(r"[A-Za-z][A-Za-z .'-]{1,63}", holder):
        errors["holder"] = _("Enter the name as printed on the card, in Latin letters.")
    return {"number": number, "expiry": expiry, "cvc": cvc, "holder": holder}, errors


def deliver_callback(url: str, payload: dict, signature: str) -> int:
    """POST the signed notification to the shop's callback URL through this app; returns the status.

    Run in a fresh context so the nested request gets its own app context and database session."""
    app = current_app._get_current_object()
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")

    def post() -> int:
        response = Client(app).post(url, data=body, headers={SIGNATURE_HEADER: signature,
                                                             "Content-Type": "application/json"})
        return response.status_code

    return contextvars.Context().run(post)


def _card_token(number: str, secret: str) -> str:
    """The bank's reusable token of a card (the card number itself never leaves the bank)."""
    return "card_" + hashlib.sha256(f"{secret}:{number}".encode()).hexdigest()[:32]


@bp.route("/checkout/<token>", methods=["GET", "POST"])
def checkout(token: str):
    """The bank's payment page: the order, a card form (or the saved card) and the outcome."""
    acquirer = _acquirer()
    order = acquirer.read_checkout(token)
    if order is None:
        abort(404)
    saved_token = order.get("card_token")
    values = {"number": "", "expiry": "", "cvc": "", "holder": ""}
    errors: dict[str, str] = {}
    if request.method == "GET":
        return _render("test_acquirer/checkout.html", order=order, token=token, values=values, errors=errors,
                       saved=bool(saved_token), declined_suffix=DECLINED_SUFFIX)
    data = {"payment_id": order["id"], "amount": order["amount"]}
    if request.form.get("action") == "cancel":
        data.update(status=DECLINED, reason="cancelled by the customer")
    elif saved_token:
        data.update(status=SUCCEEDED, card_token=saved_token)
    else:
        values, errors = validate_card(request.form)
        if errors:
            values.pop("cvc")
            return _render("test_acquirer/checkout.html", 400, order=order, token=token, values=values,
                           errors=errors, saved=False, declined_suffix=DECLINED_SUFFIX)
        number = values["number"]
        if number.endswith(DECLINED_SUFFIX):
            data.update(status=DECLINED, reason="declined by the issuer", card_last4=number[-4:])
        else:
            data.update(status=SUCCEEDED, card_token=_card_token(number, acquirer.secret),
                        card_last4=number[-4:], card_brand=card_brand(number))
    payload, signature = acquirer.signed_callback(data)
    notified = deliver_callback(order["callback_url"], payload, signature)
    return _render("test_acquirer/outcome.html", order=order, approved=data["status"] == SUCCEEDED,
                   cancelled=request.form.get("action") == "cancel", notified=notified)
