"""Paying through the payment provider (SPEC C11, seed 004 §4.2, §9).

    intent, url = start_payment(grant, user, PaymentKind.DOCUMENT, None, [document_id], key)
    → the browser goes to `url` (the bank) → the bank calls back → handle_callback(payload, signature)

Three kinds of payment: the whole debt (the unpaid documents chosen, all by default; the amount
editable), one document (the amount is the document's amount due whatever the form says), or a
prepayment of any positive amount. Rules: the role must have `Capability.PAY` (403 otherwise), the
user's e-mail must be confirmed (the receipt goes there), amounts are positive with at most two
decimals and at most `PAYMENT_MAX_AMOUNT`. The idempotency key comes from the form (generated when
it was shown), so a double submit yields one intent.

A verified "succeeded" callback moves the intent pending → paid with one conditional UPDATE, so a
replayed or concurrent callback finds nothing to change; only the call that moved it creates the one
`Payment` (channel "portal"), lowers the documents' amount due (oldest due date first), saves the card
if asked, writes the audit row and queues the receipt e-mail — all in one transaction.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from flask import current_app, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from crm import clock
from crm.access import Capability, ContractGrant
from crm.extensions import db
from crm.formatting import format_day
from crm.models.billing import BillingDocument, Payment, PaymentIntent, PaymentKind, PaymentStatus, SavedCard
from crm.services import ServiceError, audit, message_templates, outbox
from crm.services.payment_providers import (
    DECLINED,
    SUCCEEDED,
    CallbackEvent,
    CallbackRejectedError,
    get_provider,
)

__all__ = ["PaymentError", "PaymentForbiddenError", "CallbackRejectedError", "PaymentKind", "start_payment",
           "handle_callback", "intent_status", "intent_for_user", "unpaid_documents", "parse_amount",
           "saved_cards", "remove_saved_card", "redirect_url", "IntentView"]

_KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
CENT = Decimal("0.01")


class PaymentError(ServiceError):
    """The payment cannot start as asked; `errors` maps each form field to its message."""

    def __init__(self, errors: dict[str, str], status: int = 400):
        super().__init__(" ".join(errors.values()), field=next(iter(errors)), status=status)
        self.errors = errors


class PaymentForbiddenError(ServiceError):
    """The role on the contract may not pay (SPEC C6): 403."""

    def __init__(self):
        super().__init__(_("Your role on this contract does not allow payments."), status=403)


def max_amount() -> Decimal:
    """The largest amount accepted in one payment (PAYMENT_MAX_AMOUNT)."""
    return Decimal(str(current_app.config.get("PAYMENT_MAX_AMOUNT", "100000000.00")))


def parse_amount(raw) -> Decimal:
    """A positive amount of roubles with at most two decimals (a comma works too); ValueError with
    a localised message otherwise."""
    text = str(raw if raw is not None else "").strip().replace("\u00a0", "").replace(" ", "").replace(",", ".")
    if not text:
        raise ValueError(_("Enter the amount to pay."))
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(_("Enter the amount as a number, for example 1500.50.")) from None
    if not value.is_finite() or value <= 0:
        raise ValueError(_("The amount must be greater than zero."))
    if value != value.quantize(CENT, rounding=ROUND_HALF_UP):
        raise ValueError(_("The amount may have at most two digits after the decimal point."))
    if value > max_amount():
        raise ValueError(_("The amount may not exceed %(limit)s.", limit=_money(max_amount())))
    return value.quantize(CENT)


def unpaid_documents(contract_id: int) -> list[BillingDocument]:
    """Documents of the contract with something left to pay, oldest due first (one statement)."""
    return list(db.session.scalars(
        select(BillingDocument)
        .where(BillingDocument.contract_id == contract_id, BillingDocument.amount_due > 0)
        .order_by(BillingDocument.due_date.is_(None), BillingDocument.due_date, BillingDocument.doc_date,
                  BillingDocument.id)))


def saved_cards(user_id: int) -> list[SavedCard]:
    """The user's saved cards, newest first."""
    return list(db.session.scalars(
        select(SavedCard).where(SavedCard.user_id == user_id).order_by(SavedCard.created_at.desc(),
                                                                        SavedCard.id.desc())))


def remove_saved_card(user, card_id: int) -> bool:
    """Forget one of the user's saved cards; False when it is not theirs (or gone)."""
    card = db.session.get(SavedCard, card_id)
    if card is None or card.user_id != user.id:
        return False
    audit.record("payment.card_removed", actor=user, subject_type="saved_card", subject_id=card.id,
                 detail={"last4": card.last4})
    db.session.execute(update(PaymentIntent).where(PaymentIntent.saved_card_id == card.id)
                       .values(saved_card_id=None))
    db.session.delete(card)
    db.session.commit()
    return True


def _purpose(kind: str, contract_number: str, documents: list[BillingDocument]) -> str:
    if kind == PaymentKind.DOCUMENT.value and documents:
        return _("Payment of document No. %(document)s by contract No. %(number)s",
                 document=documents[0].number, number=contract_number)
    if kind == PaymentKind.PREPAYMENT.value:
        return _("Prepayment by contract No. %(number)s", number=contract_number)
    return _("Payment of the debt by contract No. %(number)s", number=contract_number)


def redirect_url(intent: PaymentIntent) -> str:
    """Where the browser goes for a pending intent (the bank), or the return page once it is decided."""
    if intent.status != PaymentStatus.PENDING.value:
        return url_for("portal.pay_return", intent_id=intent.id)
    provider = get_provider()
    if intent.saved_card_id is not None:
        card = db.session.get(SavedCard, intent.saved_card_id)
        if card is not None:
            return provider.charge_saved_card(intent, card)
    return provider.create_payment(intent)


def _existing(idempotency_key: str) -> PaymentIntent | None:
    return db.session.scalar(select(PaymentIntent).where(PaymentIntent.idempotency_key == idempotency_key))


def _replay(intent: PaymentIntent, user, grant: ContractGrant) -> tuple[PaymentIntent, str]:
    if intent.user_id != user.id or intent.contract_id != grant.contract.id:
        raise PaymentError({"form": _("This payment form has expired. Open the payment page again.")})
    return intent, redirect_url(intent)


def start_payment(grant: ContractGrant, user, kind: PaymentKind | str, amount: Decimal | str | None,
                  document_ids: list[int], idempotency_key: str, save_card: bool = False,
                  saved_card_id: int | None = None) -> tuple[PaymentIntent, str]:
    """Create (or, for a repeated key, find) the payment intent and return it with the URL the browser
    goes to. Raises `PaymentForbiddenError` (403) or `PaymentError` with every problem (400)."""
    if not grant.can(Capability.PAY):
        raise PaymentForbiddenError()
    idempotency_key = (idempotency_key or "").strip()
    if not _KEY.match(idempotency_key):
        raise PaymentError({"form": _("This payment form has expired. Open the payment page again.")})
    if (found := _existing(idempotency_key)) is not None:
        return _replay(found, user, grant)
    errors: dict[str, str] = {}
    if not user.email or user.email_confirmed_at is None:
        errors["email"] = _("Confirm your e-mail address in the profile first: the receipt is sent there.")
    try:
        kind = PaymentKind(kind)
    except ValueError:
        raise PaymentError({"form": _("Choose what to pay.")}) from None
    contract = grant.contract
    unpaid = {doc.id: doc for doc in unpaid_documents(contract.id)}
    chosen: list[BillingDocument] = []
    value: Decimal | None = None
    wanted = []
    for raw in document_ids or []:
        try:
            wanted.append(int(raw))
        except (TypeError, ValueError):
            errors["documents"] = _("Choose documents of this contract that have an amount due.")
    if kind is PaymentKind.DOCUMENT:
        if len(wanted) != 1 or wanted[0] not in unpaid:
            errors["documents"] = _("This document has nothing left to pay.")
        else:
            chosen = [unpaid[wanted[0]]]
            value = chosen[0].amount_due  # locked: whatever amount the form sent is ignored
    else:
        if kind is PaymentKind.DEBT:
            if any(doc_id not in unpaid for doc_id in wanted):
                errors["documents"] = _("Choose documents of this contract that have an amount due.")
            chosen = [doc for doc_id, doc in unpaid.items() if not wanted or doc_id in set(wanted)]
            if not chosen and "documents" not in errors:
                errors["documents"] = _("There is no debt to pay. You can make a prepayment instead.")
        try:
            value = parse_amount(amount)
        except ValueError as exc:
            errors["amount"] = str(exc)
    card = None
    if saved_card_id:
        card = db.session.get(SavedCard, int(saved_card_id))
        if card is None or card.user_id != user.id:
            errors["saved_card"] = _("Choose one of your saved cards or a new card.")
    if errors:
        raise PaymentError(errors)
    provider = get_provider()
    intent = PaymentIntent(user_id=user.id, contract_id=contract.id, kind=kind.value, amount=value,
                           document_ids=[doc.id for doc in chosen], idempotency_key=idempotency_key,
                           provider=provider.name, provider_payment_id=provider.new_payment_id(),
                           status=PaymentStatus.PENDING.value, email=user.email,
                           save_card=bool(save_card) and card is None, saved_card_id=card.id if card else None)
    db.session.add(intent)
    try:
        db.session.flush()
    except IntegrityError:  # the same form submitted twice at once: the other request made it
        db.session.rollback()
        found = _existing(idempotency_key)
        if found is None:
            raise
        return _replay(found, user, grant)
    audit.record("payment.started", actor=user, subject_type="payment_intent", subject_id=intent.id,
                 counterparty_id=contract.counterparty_id,
                 detail={"kind": kind.value, "amount": str(value), "documents": intent.document_ids})
    db.session.commit()
    return intent, redirect_url(intent)


def _apply_to_documents(intent: PaymentIntent, amount: Decimal) -> list[BillingDocument]:
    """Lower the amount due of the paid documents, oldest due first, never below zero."""
    if not intent.document_ids:
        return []
    documents = [doc for doc in unpaid_documents(intent.contract_id) if doc.id in set(intent.document_ids)]
    left = amount
    for doc in documents:
        if left <= 0:
            break
        part = min(left, Decimal(doc.amount_due))
        doc.amount_due = Decimal(doc.amount_due) - part
        left -= part
    return documents


def handle_callback(payload: dict, signature: str) -> PaymentIntent:
    """Apply the provider's signed notification. Forged, stale or mismatching → `CallbackRejectedError`
    (nothing changes); a repeat of a decided payment → the intent unchanged."""
    event: CallbackEvent = get_provider().verify_callback(payload, signature)
    intent = db.session.scalar(select(PaymentIntent).where(
        PaymentIntent.provider_payment_id == event.provider_payment_id))
    if intent is None:
        raise CallbackRejectedError("unknown payment")
    if event.amount != Decimal(intent.amount):
        raise CallbackRejectedError("amount does not match the payment")
    if intent.status != PaymentStatus.PENDING.value:
        return intent
    now = clock.now()
    new_status = PaymentStatus.PAID.value if event.status == SUCCEEDED else PaymentStatus.FAILED.value
    moved = db.session.execute(
        update(PaymentIntent)
        .where(PaymentIntent.id == intent.id, PaymentIntent.status == PaymentStatus.PENDING.value)
        .values(status=new_status, completed_at=now,
                failure_reason=(event.reason or "declined")[:500] if event.status == DECLINED else None)
        .execution_options(synchronize_session=False)).rowcount
    if not moved:  # another delivery of the same callback got here first
        db.session.rollback()
        return db.session.get(PaymentIntent, intent.id)
    db.session.refresh(intent)
    from crm.models import CrmUser

    user = db.session.get(CrmUser, intent.user_id) if intent.user_id else None
    if new_status == PaymentStatus.FAILED.value:
        audit.record("payment.failed", actor=user, subject_type="payment_intent", subject_id=intent.id,
                     detail={"reason": intent.failure_reason})
        db.session.commit()
        return intent
    documents = _apply_to_documents(intent, event.amount)
    contract = intent.contract
    payment = Payment(contract_id=intent.contract_id,
                      document_id=intent.document_ids[0] if intent.kind == PaymentKind.DOCUMENT.value else None,
                      bank=_("Test bank"), number=event.provider_payment_id[-12:].upper(),
                      paid_on=clock.today(), amount=event.amount, status=PaymentStatus.PAID.value,
                      purpose=_purpose(intent.kind, contract.number, documents), channel="portal",
                      provider_payment_id=event.provider_payment_id, initiated_by_id=intent.user_id)
    db.session.add(payment)
    db.session.flush()
    intent.payment_id = payment.id
    if intent.save_card and user is not None and event.card_token and event.card_last4:
        known = db.session.scalar(select(SavedCard).where(SavedCard.user_id == user.id,
                                                          SavedCard.provider_token == event.card_token))
        if known is None:
            db.session.add(SavedCard(user_id=user.id, provider_token=event.card_token[:255],
                                     last4=str(event.card_last4)[-4:], brand=(event.card_brand or None)))
    audit.record("payment.paid", actor=user, subject_type="payment", subject_id=payment.id,
                 counterparty_id=contract.counterparty_id,
                 detail={"intent": intent.id, "amount": str(event.amount), "documents": intent.document_ids})
    if intent.email:
        locale = message_templates.normalise_locale(getattr(user, "locale", None))
        with force_locale(locale):
            context = {"name": user.first_name if user is not None and user.first_name else intent.email,
                       "contract_number": contract.number, "purpose": payment.purpose,
                       "amount": _money(payment.amount), "paid_on": format_day(payment.paid_on),
                       "payment_number": payment.number,
                       "documents": [{"number": doc.number, "date": format_day(doc.doc_date),
                                      "amount_due": _money(doc.amount_due)} for doc in documents]}
        subject, body = message_templates.render_message("payment.receipt", locale, context)
        outbox.queue_email(intent.email, subject, body, user_id=intent.user_id, category="payment_receipt")
    db.session.commit()
    return intent


def _money(value: Decimal) -> str:
    from crm.formatting import format_money

    return format_money(value)


@dataclass(frozen=True)
class IntentView:
    """What the return page and its JSON show about one intent."""

    id: int
    status: str
    amount: Decimal
    contract_id: int
    kind: str
    failure_reason: str | None


def intent_for_user(user, intent_id: int) -> PaymentIntent | None:
    """The intent if it is the user's own, else None (the page answers 404)."""
    intent = db.session.get(PaymentIntent, intent_id)
    if intent is None or intent.user_id != getattr(user, "id", None):
        return None
    return intent


def intent_status(user, intent_id: int) -> IntentView | None:
    """Status of the user's own intent (pending / paid / failed), or None when it is not theirs."""
    intent = intent_for_user(user, intent_id)
    if intent is None:
        return None
    return IntentView(intent.id, intent.status, Decimal(intent.amount), intent.contract_id, intent.kind,
                      intent.failure_reason)
