"""Paying through the test acquirer (SPEC C11, issue 5 acceptance 2): the whole flow from the
portal form to the bank's signed callback; forged, stale, mismatching and replayed callbacks;
the locked document amount; the confirmed e-mail; who may pay; the debt paid oldest first; the
receipt over the real SMTP sink; saved cards."""
from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from crm import clock
from crm.extensions import db as database
from crm.models.audit import AuditLog
from crm.models.billing import BillingDocument, Payment, PaymentIntent, PaymentKind, SavedCard
from crm.models.outbox import EmailOutbox
from crm.services import payment_flow
from crm.services.payment_providers import SIGNATURE_HEADER, get_provider, luhn_valid, sign
from tests import factories as f

APPROVED_CARD = "4111111111111111"
DECLINED_CARD = "4000000000000002"


def document(contract, number: str, amount: str, due: date, doc_type: str = "invoice") -> BillingDocument:
    doc = BillingDocument(contract_id=contract.id, doc_type=doc_type, number=number, doc_date=due.replace(day=1),
                          amount=Decimal(amount), amount_due=Decimal(amount), due_date=due)
    database.session.add(doc)
    database.session.flush()
    return doc


@pytest.fixture()
def shop(app, db):
    """A contract with three unpaid documents and one user per role."""
    contract = f.contract()
    users = {role: f.user(f"{role}@pay.example") for role in ("accountant", "manager", "administrator",
                                                               "power_engineer")}
    for role, user in users.items():
        f.grant(user, contract, role)
    docs = [document(contract, "INV-3", "300.00", date(2026, 3, 18)),
            document(contract, "INV-1", "100.50", date(2026, 1, 18)),
            document(contract, "INV-2", "200.25", date(2026, 2, 18))]
    db.session.commit()
    return {"contract": contract, "users": users, "docs": {d.number: d.id for d in docs}}


def signed_in(app, email="accountant@pay.example"):
    client = app.test_client()
    assert f.login(client, email).status_code == 302
    return client


def form_key(html: str) -> str:
    return re.search(r'name="idempotency_key" value="([^"]+)"', html).group(1)


def count(model) -> int:
    return database.session.scalar(select(func.count()).select_from(model))


def fresh(model, ident):
    database.session.expire_all()
    return database.session.get(model, ident)


def pay_with_card(client, checkout_url: str, number: str = APPROVED_CARD):
    page = client.get(checkout_url)
    assert page.status_code == 200 and "Тестовый банк — без реальных денег" in page.get_data(as_text=True)
    return client.post(checkout_url, data={"action": "pay", "number": number, "expiry": "12/30", "cvc": "123",
                                           "holder": "IVAN PETROV"})


def start_document_payment(client, shop, number="INV-1", **extra):
    doc_id = shop["docs"][number]
    url = f"/portal/contracts/{shop['contract'].id}/documents/{doc_id}/pay"
    key = form_key(client.get(url).get_data(as_text=True))
    return client.post(url, data={"idempotency_key": key, **extra}), key


def callback(client, payload: dict, signature: str):
    return client.post("/portal/payments/callback/test", json=payload, headers={SIGNATURE_HEADER: signature})


def new_intent(shop, kind=PaymentKind.DOCUMENT, amount=None, docs=("INV-1",), key="k" * 20, role="accountant"):
    from crm.access import grant_for

    user = shop["users"][role]
    grant = grant_for(user, shop["contract"].id)
    from flask import current_app

    with current_app.test_request_context():
        intent, _url = payment_flow.start_payment(grant, user, kind, amount, [shop["docs"][n] for n in docs], key)
    return intent


def bank_callback(intent, status="succeeded", **extra):
    from flask import current_app

    with current_app.test_request_context():
        return get_provider().signed_callback({"payment_id": intent.provider_payment_id,
                                               "amount": str(intent.amount), "status": status, **extra})


# --- the whole journey --------------------------------------------------------------------------

def test_accountant_pays_one_document_at_its_locked_amount_when_form_amount_is_tampered(app, shop):
    client = signed_in(app)
    response, _key = start_document_payment(client, shop, amount="1.00")
    assert response.status_code == 302 and "/test-acquirer/checkout/" in response.headers["Location"]
    outcome = pay_with_card(client, response.headers["Location"])
    assert outcome.status_code == 200 and "Платёж одобрен" in outcome.get_data(as_text=True)
    intent = database.session.scalars(select(PaymentIntent)).one()
    assert intent.status == "paid" and intent.amount == Decimal("100.50") and intent.kind == "document"
    payment = database.session.scalars(select(Payment)).one()
    assert (payment.amount, payment.channel, payment.status) == (Decimal("100.50"), "portal", "paid")
    assert payment.document_id == shop["docs"]["INV-1"] and payment.contract_id == shop["contract"].id
    assert fresh(BillingDocument, shop["docs"]["INV-1"]).amount_due == Decimal("0.00")
    assert fresh(BillingDocument, shop["docs"]["INV-2"]).amount_due == Decimal("200.25")
    page = client.get(f"/portal/payments/intents/{intent.id}").get_data(as_text=True)
    assert "Оплачен" in page and 'data-status="paid"' in page
    history = client.get(f"/portal/contracts/{shop['contract'].id}/payments").get_data(as_text=True)
    assert "100,50" in history
    actions = database.session.scalars(select(AuditLog.action).order_by(AuditLog.id)).all()
    assert "payment.started" in actions and "payment.paid" in actions


def test_locked_document_amount_is_used_when_service_is_given_another_amount(app, shop):
    intent = new_intent(shop, amount="0.01")
    assert intent.amount == Decimal("100.50")


def test_declined_card_marks_payment_failed_and_changes_no_debt_when_card_ends_in_0002(app, shop):
    client = signed_in(app)
    response, _key = start_document_payment(client, shop)
    outcome = pay_with_card(client, response.headers["Location"], DECLINED_CARD)
    assert "Платёж отклонён" in outcome.get_data(as_text=True)
    intent = database.session.scalars(select(PaymentIntent)).one()
    assert intent.status == "failed" and count(Payment) == 0
    assert fresh(BillingDocument, shop["docs"]["INV-1"]).amount_due == Decimal("100.50")
    page = client.get(f"/portal/payments/intents/{intent.id}").get_data(as_text=True)
    assert "Не прошёл" in page
    assert f'href="/portal/contracts/{shop["contract"].id}/documents/{shop["docs"]["INV-1"]}/pay"' in page


def test_bank_refuses_card_when_number_fails_luhn(app, shop):
    client = signed_in(app)
    response, _key = start_document_payment(client, shop)
    outcome = pay_with_card(client, response.headers["Location"], "4111111111111112")
    assert outcome.status_code == 400 and "Введите правильный номер карты" in outcome.get_data(as_text=True)
    assert database.session.scalars(select(PaymentIntent.status)).one() == "pending"
    assert luhn_valid(APPROVED_CARD) and not luhn_valid("4111111111111112")


def test_double_submit_makes_one_intent_when_same_form_is_posted_twice(app, shop):
    client = signed_in(app)
    url = f"/portal/contracts/{shop['contract'].id}/pay"
    key = form_key(client.get(url).get_data(as_text=True))
    first = client.post(url, data={"idempotency_key": key, "amount": "601.00"})
    second = client.post(url, data={"idempotency_key": key, "amount": "601.00"})
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert count(PaymentIntent) == 1


# --- who may pay --------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["accountant", "manager", "administrator"])
def test_finance_roles_can_start_a_payment_when_email_confirmed(app, shop, role):
    client = signed_in(app, f"{role}@pay.example")
    response, _key = start_document_payment(client, shop)
    assert response.status_code == 302 and count(PaymentIntent) == 1


def test_power_engineer_gets_403_when_opening_or_posting_the_payment_form(app, shop):
    client = signed_in(app, "power_engineer@pay.example")
    url = f"/portal/contracts/{shop['contract'].id}/pay"
    assert client.get(url).status_code == 403
    assert client.post(url, data={"idempotency_key": "x" * 24, "amount": "5.00"}).status_code == 403
    assert count(PaymentIntent) == 0


def test_payment_is_refused_with_a_link_to_the_profile_when_email_not_confirmed(app, shop, db):
    shop["users"]["accountant"].email_confirmed_at = None
    db.session.commit()
    client = signed_in(app)
    url = f"/portal/contracts/{shop['contract'].id}/pay"
    page = client.get(url).get_data(as_text=True)
    assert "Для оплаты нужен подтверждённый адрес электронной почты" in page and "/portal/profile/" in page
    response = client.post(url, data={"idempotency_key": form_key(page), "amount": "10.00"})
    assert response.status_code == 400
    assert "Сначала подтвердите адрес электронной почты в профиле" in response.get_data(as_text=True)
    assert count(PaymentIntent) == 0


def test_document_of_another_contract_is_404_when_paid_by_id(app, shop, db):
    other = f.contract()
    doc = document(other, "ALIEN", "10.00", date(2026, 1, 1))
    db.session.commit()
    client = signed_in(app)
    assert client.get(f"/portal/contracts/{shop['contract'].id}/documents/{doc.id}/pay").status_code == 404


# --- amounts ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("amount", "message"), [
    ("0", "Сумма должна быть больше нуля."),
    ("-5", "Сумма должна быть больше нуля."),
    ("10.001", "В сумме может быть не больше двух знаков после запятой."),
    ("abc", "Введите сумму числом, например 1500.50."),
    ("", "Введите сумму к оплате."),
    ("100000000.01", "Сумма не может быть больше 100\u00a0000\u00a0000,00\u00a0₽."),
])
def test_prepayment_is_refused_with_a_message_when_amount_is_bad(app, shop, amount, message):
    client = signed_in(app)
    url = f"/portal/contracts/{shop['contract'].id}/prepay"
    key = form_key(client.get(url).get_data(as_text=True))
    response = client.post(url, data={"idempotency_key": key, "amount": amount})
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert count(PaymentIntent) == 0


def test_prepayment_of_any_positive_amount_goes_to_no_document(app, shop):
    intent = new_intent(shop, kind=PaymentKind.PREPAYMENT, amount="1 234,56", docs=())
    assert intent.amount == Decimal("1234.56") and intent.document_ids == []
    payload, signature = bank_callback(intent)
    assert callback(signed_in(app), payload, signature).status_code == 200
    payment = database.session.scalars(select(Payment)).one()
    assert payment.document_id is None and payment.purpose.startswith("Предоплата по договору")
    assert sum(fresh(BillingDocument, i).amount_due for i in shop["docs"].values()) == Decimal("600.75")


def test_debt_payment_lowers_amount_due_oldest_first_when_amount_is_partial(app, shop):
    intent = new_intent(shop, kind=PaymentKind.DEBT, amount="250.00", docs=("INV-3", "INV-1", "INV-2"))
    payload, signature = bank_callback(intent)
    assert callback(signed_in(app), payload, signature).status_code == 200
    dues = {n: fresh(BillingDocument, i).amount_due for n, i in shop["docs"].items()}
    assert dues == {"INV-1": Decimal("0.00"), "INV-2": Decimal("50.75"), "INV-3": Decimal("300.00")}


def test_debt_form_preselects_every_unpaid_document_and_their_total(app, shop):
    page = signed_in(app).get(f"/portal/contracts/{shop['contract'].id}/pay").get_data(as_text=True)
    assert page.count('name="documents"') == 3 and page.count(" checked") >= 3
    assert 'value="600.75"' in page
    assert page.index("INV-1") < page.index("INV-2") < page.index("INV-3")


# --- callbacks ----------------------------------------------------------------------------------

def test_forged_callback_is_refused_with_400_and_changes_nothing(app, shop):
    intent = new_intent(shop)
    payload, _signature = bank_callback(intent)
    client = signed_in(app)
    forged = sign(payload, "not-the-secret")
    assert callback(client, payload, forged).status_code == 400
    assert callback(client, payload, "").status_code == 400
    tampered = dict(payload, amount="1.00")
    good_for_original = bank_callback(intent)[1]
    assert callback(client, tampered, good_for_original).status_code == 400
    assert fresh(PaymentIntent, intent.id).status == "pending"
    assert (count(Payment), count(EmailOutbox)) == (0, 0)
    assert fresh(BillingDocument, shop["docs"]["INV-1"]).amount_due == Decimal("100.50")


def test_signed_callback_is_refused_when_amount_differs_from_the_intent(app, shop):
    intent = new_intent(shop)
    from flask import current_app

    with current_app.test_request_context():
        payload, signature = get_provider().signed_callback(
            {"payment_id": intent.provider_payment_id, "amount": "1.00", "status": "succeeded"})
    assert callback(signed_in(app), payload, signature).status_code == 400
    assert fresh(PaymentIntent, intent.id).status == "pending" and count(Payment) == 0


def test_stale_callback_is_refused_when_older_than_the_allowed_age(app, shop):
    intent = new_intent(shop)
    payload, signature = bank_callback(intent)
    clock.set_now(clock.now().replace(microsecond=0) + timedelta(minutes=6))
    assert callback(signed_in(app), payload, signature).status_code == 400
    assert fresh(PaymentIntent, intent.id).status == "pending" and count(Payment) == 0


def test_same_callback_twice_changes_nothing_the_second_time(app, shop):
    intent = new_intent(shop, kind=PaymentKind.DEBT, amount="600.75", docs=("INV-1", "INV-2", "INV-3"))
    payload, signature = bank_callback(intent, card_token="card_abc", card_last4="1111")
    client = signed_in(app)
    assert callback(client, payload, signature).status_code == 200
    counts = (count(Payment), count(EmailOutbox), count(AuditLog), count(SavedCard))
    dues = [fresh(BillingDocument, i).amount_due for i in shop["docs"].values()]
    second = callback(client, payload, signature)
    assert second.status_code == 200 and second.get_json() == {"status": "paid"}
    assert (count(Payment), count(EmailOutbox), count(AuditLog), count(SavedCard)) == counts
    assert (counts[0], counts[1], counts[3]) == (1, 1, 0)  # no card saved: the intent did not ask
    assert [fresh(BillingDocument, i).amount_due for i in shop["docs"].values()] == dues == [Decimal("0.00")] * 3
    declined_later, declined_signature = bank_callback(intent, status="declined")
    assert callback(client, declined_later, declined_signature).status_code == 200
    assert fresh(PaymentIntent, intent.id).status == "paid" and count(Payment) == 1


def test_callback_for_unknown_payment_is_refused(app, shop):
    intent = new_intent(shop)
    payload, signature = bank_callback(intent)
    payload = dict(payload, payment_id="tst_unknown")
    from flask import current_app

    with current_app.test_request_context():
        signature = sign(payload, get_provider().secret)
    assert callback(signed_in(app), payload, signature).status_code == 400


# --- receipt and saved cards -----------------------------------------------------------------------

def test_receipt_is_delivered_through_smtp_when_callback_pays(rq_app, rq_worker, mailbox, shop):
    intent = new_intent(shop)
    payload, signature = bank_callback(intent)
    with rq_app.test_client() as client:
        assert callback(client, payload, signature).status_code == 200
    message = mailbox.wait_for(1)[0]
    assert message["To"] == "accountant@pay.example"
    assert "Квитанция об оплате" in message["Subject"] and shop["contract"].number in message["Subject"]
    body = message.get_content()
    assert "100,50" in body and "INV-1" in body


def test_saved_card_keeps_only_token_and_last4_and_can_be_removed(app, shop):
    client = signed_in(app)
    response, _key = start_document_payment(client, shop, save_card="1")
    pay_with_card(client, response.headers["Location"])
    card = database.session.scalars(select(SavedCard)).one()
    assert card.last4 == "1111" and card.brand == "Visa" and card.provider_token.startswith("card_")
    stored = " ".join(str(v) for v in (card.provider_token, card.last4, card.brand))
    assert APPROVED_CARD not in stored and "123" not in card.last4
    cards_page = client.get("/portal/profile/cards").get_data(as_text=True)
    assert "•••• <span class=\"font-monospace\">1111</span>" in cards_page
    # paying with the saved card: the bank only asks to confirm
    response, _key = start_document_payment(client, shop, number="INV-2", card=str(card.id))
    checkout = response.headers["Location"]
    assert "Будет списана сохранённая карта" in client.get(checkout).get_data(as_text=True)
    client.post(checkout, data={"action": "pay"})
    assert fresh(BillingDocument, shop["docs"]["INV-2"]).amount_due == Decimal("0.00")
    other = signed_in(app, "manager@pay.example")
    assert other.post(f"/portal/profile/cards/{card.id}/remove").status_code == 404
    assert client.post(f"/portal/profile/cards/{card.id}/remove").status_code == 302
    assert count(SavedCard) == 0
    assert "Нет сохранённых карт" in client.get("/portal/profile/cards").get_data(as_text=True)


def test_return_page_of_another_users_payment_is_404(app, shop):
    intent = new_intent(shop)
    other = signed_in(app, "manager@pay.example")
    assert other.get(f"/portal/payments/intents/{intent.id}").status_code == 404
    assert other.get(f"/portal/payments/intents/{intent.id}.json").status_code == 404
    own = signed_in(app)
    assert own.get(f"/portal/payments/intents/{intent.id}.json").get_json()["status"] == "pending"
    page = own.get(f"/portal/payments/intents/{intent.id}").get_data(as_text=True)
    assert 'http-equiv="refresh"' in page and "В процессе" in page


def test_payment_form_issues_the_same_number_of_statements_whatever_the_documents(app, shop, db, query_counter):
    client = signed_in(app)
    url = f"/portal/contracts/{shop['contract'].id}/pay"
    client.get(url)
    with query_counter() as few:
        assert client.get(url).status_code == 200
    for n in range(20):
        document(shop["contract"], f"MORE-{n}", "1.00", date(2026, 4, 1) + timedelta(days=n))
    db.session.commit()
    with query_counter() as many:
        page = client.get(url).get_data(as_text=True)
    assert page.count('name="documents"') == 23
    assert many.count == few.count <= 12, many.statements


def test_pay_form_and_bank_page_are_in_english_when_english_chosen(app, shop):
    client = signed_in(app)
    client.get("/portal/lang/en")
    url = f"/portal/contracts/{shop['contract'].id}/documents/{shop['docs']['INV-1']}/pay"
    html = client.get(url).get_data(as_text=True)
    assert "Pay the document" in html and "Proceed to payment" in html and "100.50" in html
    response = client.post(url, data={"idempotency_key": form_key(html)})
    bank = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Test bank — no real money" in bank and "Card number" in bank


def test_callback_is_exempt_from_csrf_while_the_bank_form_is_protected(app, database_url, shop):
    from app import create_app

    protected = create_app({"CRM_CONFIG": "test", "SQLALCHEMY_DATABASE_URI": database_url, "WTF_CSRF_ENABLED": True})
    with protected.app_context():
        intent = new_intent(shop)
        payload, signature = bank_callback(intent)
        client = protected.test_client()
        assert client.post("/portal/payments/callback/test", json=payload,
                           headers={SIGNATURE_HEADER: "0" * 64}).get_json() == {"error": "bad signature"}
        assert callback(client, payload, signature).get_json() == {"status": "paid"}
        with protected.test_request_context():
            checkout = get_provider().create_payment(new_intent(shop, docs=("INV-2",), key="m" * 20))
        refused = client.post(checkout, data={"action": "pay", "number": APPROVED_CARD, "expiry": "12/30",
                                              "cvc": "123", "holder": "IVAN PETROV"})
        assert refused.status_code == 400 and count(Payment) == 1
        from crm.extensions import db

        db.session.remove()
        db.engine.dispose()
