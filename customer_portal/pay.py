"""Paying from the portal (SPEC C11, seed 004 §4.2, §9): the whole debt, one document, a prepayment;
the return page after the bank; the provider's callback; saved cards.

The form carries an idempotency key generated when it was shown, so submitting it twice makes one
payment intent. Every rule lives in crm/services/payment_flow.py; these views parse and render.
"""
from __future__ import annotations

import secrets
from decimal import Decimal

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from crm.access import Capability
from crm.extensions import csrf, db
from crm.models.billing import BillingDocument, PaymentKind, PaymentStatus
from crm.services import payment_flow
from crm.services.payment_providers import SIGNATURE_HEADER, CallbackRejectedError, get_provider
from customer_portal import account_route, bp, contract_route, public_route

#: names of the document types a payment can be for
DOCUMENT_LABELS = {
    "invoice": _l("Invoice"),
    "corrective_invoice": _l("Corrective invoice"),
    "bill": _l("Bill"),
    "penalty_claim": _l("Penalty claim"),
    "reconciliation_act": _l("Reconciliation act"),
    "acceptance_act": _l("Acceptance act"),
    "acceptance_statement": _l("Acceptance statement"),
}


def doc_label(doc_type: str) -> str:
    """The name of a document type (the stored value when unknown)."""
    text = DOCUMENT_LABELS.get(doc_type)
    return str(text) if text is not None else doc_type


def _email_ready(user) -> bool:
    return bool(user.email) and user.email_confirmed_at is not None


def _form_values(kind: PaymentKind, documents: list[BillingDocument]) -> dict:
    """What the form shows first: every unpaid document chosen and their total (seed 004 §4.2)."""
    total = sum((Decimal(doc.amount_due) for doc in documents), Decimal("0.00"))
    return {"amount": f"{total:.2f}" if documents and kind is not PaymentKind.PREPAYMENT else "",
            "documents": [doc.id for doc in documents], "card": "new", "save_card": False}


def _pay(grant, kind: PaymentKind, documents: list[BillingDocument], document: BillingDocument | None = None):
    """GET shows the form; POST starts the payment and sends the browser to the bank."""
    user = current_user
    cards = payment_flow.saved_cards(user.id)
    errors: dict[str, str] = {}
    values = _form_values(kind, documents)
    key = request.form.get("idempotency_key", "") if request.method == "POST" else secrets.token_urlsafe(24)
    status = 200
    if request.method == "POST":
        card_choice = request.form.get("card", "new")
        values = {"amount": request.form.get("amount", "")[:32],
                  "documents": [value for value in request.form.getlist("documents")][:500],
                  "card": card_choice, "save_card": bool(request.form.get("save_card"))}
        if kind is PaymentKind.DOCUMENT:
            values["documents"] = [document.id] if document is not None else []
        saved_card_id = int(card_choice) if card_choice.isdigit() else None
        try:
            _intent, url = payment_flow.start_payment(
                grant, user, kind, values["amount"], values["documents"], key,
                save_card=values["save_card"], saved_card_id=saved_card_id)
        except payment_flow.PaymentForbiddenError:
            abort(403)
        except payment_flow.PaymentError as exc:
            errors = exc.errors
            status = 400
            if "form" in errors:
                key = secrets.token_urlsafe(24)
        else:
            return redirect(url)
        values["documents"] = [int(v) for v in values["documents"] if str(v).isdigit()]
    return render_template("portal/pay.html", grant=grant, kind=kind.value, documents=documents, document=document,
                           values=values, errors=errors, cards=cards, idempotency_key=key,
                           email_ready=_email_ready(user), doc_label=doc_label), status


@bp.route("/contracts/<int:contract_id>/pay", methods=["GET", "POST"])
@contract_route(Capability.PAY)
def pay_debt(grant, contract_id: int):
    """Pay the debt of the contract: the unpaid documents are chosen, the amount can be edited."""
    return _pay(grant, PaymentKind.DEBT, payment_flow.unpaid_documents(contract_id))


@bp.route("/contracts/<int:contract_id>/prepay", methods=["GET", "POST"])
@contract_route(Capability.PAY)
def pay_prepayment(grant, contract_id: int):
    """Put any positive amount on the contract's account (a prepayment)."""
    return _pay(grant, PaymentKind.PREPAYMENT, [])


@bp.route("/contracts/<int:contract_id>/documents/<int:document_id>/pay", methods=["GET", "POST"])
@contract_route(Capability.PAY)
def pay_document(grant, contract_id: int, document_id: int):
    """Pay one document; its amount due is the amount, not editable."""
    document = db.session.scalar(select(BillingDocument).where(BillingDocument.id == document_id,
                                                                BillingDocument.contract_id == contract_id))
    if document is None:
        abort(404)
    return _pay(grant, PaymentKind.DOCUMENT, [document] if document.amount_due > 0 else [], document)


@bp.route("/payments/intents/<int:intent_id>")
@account_route
def pay_return(intent_id: int):
    """Where the bank sends the browser back: the payment's status, refreshed until the bank's
    notification has landed."""
    intent = payment_flow.intent_for_user(current_user, intent_id)
    if intent is None:
        abort(404)
    return render_template("portal/pay_return.html", intent=intent,
                           pending=intent.status == PaymentStatus.PENDING.value)


@bp.route("/payments/intents/<int:intent_id>.json")
@account_route
def pay_status(intent_id: int):
    """The payment's status as JSON (for scripts polling the return page)."""
    view = payment_flow.intent_status(current_user, intent_id)
    if view is None:
        abort(404)
    return jsonify(id=view.id, status=view.status, amount=str(view.amount))


@bp.route("/payments/callback/<provider>", methods=["POST"])
@public_route
@csrf.exempt
def payment_callback(provider: str):
    """The provider's server-to-server notification: signed, fresh, for a known payment and amount."""
    payload = request.get_json(silent=True)
    try:
        if provider != get_provider().name or not isinstance(payload, dict):
            raise CallbackRejectedError("bad request")
        intent = payment_flow.handle_callback(payload, request.headers.get(SIGNATURE_HEADER, ""))
    except CallbackRejectedError as exc:
        db.session.rollback()
        return jsonify(error=exc.reason), 400
    return jsonify(status=intent.status)


@bp.route("/profile/cards")
@account_route
def saved_cards():
    """The cards saved at the bank (token and last four digits only), each removable."""
    return render_template("portal/pay_cards.html", cards=payment_flow.saved_cards(current_user.id))


@bp.route("/profile/cards/<int:card_id>/remove", methods=["POST"])
@account_route
def saved_card_remove(card_id: int):
    """Forget one saved card."""
    if not payment_flow.remove_saved_card(current_user, card_id):
        abort(404)
    flash(_("The card was removed."), "success")
    return redirect(url_for("portal.saved_cards"))
