"""The system events whose messages admins may edit (SPEC B7): data, not code.

Each event offers a fixed set of variables (documented for the editor, with a sample context used for
the preview and for the save-time check) and ships default texts in Russian and English in
`crm/templates/messages/<event>.<locale>.txt` (subject on the first line, a blank line, the body).
Senders pass plain values (strings, numbers, lists of dicts), never ORM objects, so an edited template
can reach nothing but what its event offers.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l


@dataclass(frozen=True)
class MessageEvent:
    name: str
    label: object                      # lazy string shown to admins
    variables: dict[str, object]       # variable → lazy description
    sample: dict = field(default_factory=dict)
    # Some messages are the only way to finish what the user started (a code, a link): their e-mail
    # cannot be switched off in the back office.
    mandatory_email: bool = False


_CONTRACTS_SAMPLE = [{"number": "69572016050101", "url": "https://lk.example.ru/portal/contracts/1/readings"}]

EVENTS: dict[str, MessageEvent] = {event.name: event for event in (
    MessageEvent(
        "signup.code", _l("Sign-up: e-mail confirmation code"),
        {"code": _l("the confirmation code"), "minutes": _l("minutes the code is valid")},
        {"code": "482913", "minutes": 15}, mandatory_email=True),
    MessageEvent(
        "binding.confirm", _l("Contract binding: confirmation by the contract's e-mail"),
        {"requester_name": _l("name of the person asking for access"),
         "requester_email": _l("e-mail of the person asking for access"),
         "contract_number": _l("contract number"), "link": _l("confirmation link"),
         "hours": _l("hours the link is valid")},
        {"requester_name": "Иванов Иван", "requester_email": "ivanov@example.ru", "contract_number": "69572016050101",
         "link": "https://lk.example.ru/portal/signup/bind/abc123", "hours": 24}, mandatory_email=True),
    MessageEvent(
        "contract.role_granted", _l("Contract role granted"),
        {"role": _l("role name"), "contract_number": _l("contract number"), "counterparty": _l("customer name"),
         "objects": _l("energy objects in the user's scope: list of {code, name}; empty for the whole contract"),
         "portal_url": _l("link to the contracts in the portal")},
        {"role": "Менеджер", "contract_number": "69572016050101", "counterparty": "ООО «Ромашка»",
         "objects": [{"code": "001", "name": "Котельная"}], "portal_url": "https://lk.example.ru/portal/contracts"}),
    MessageEvent(
        "contract.role_removed", _l("Contract role removed"),
        {"role": _l("role name"), "contract_number": _l("contract number"), "counterparty": _l("customer name")},
        {"role": "Менеджер", "contract_number": "69572016050101", "counterparty": "ООО «Ромашка»"}),
    MessageEvent(
        "appeal.reply", _l("Appeal: new reply from the supplier"),
        {"name": _l("recipient's name"), "appeal_number": _l("appeal number"), "topic": _l("appeal topic"),
         "reply_text": _l("text of the reply"), "link": _l("link to the appeal in the portal")},
        {"name": "Иван", "appeal_number": "А-2026-000123", "topic": "Показания и приборы учёта",
         "reply_text": "Показания приняты, спасибо.", "link": "https://lk.example.ru/portal/appeals/123"}),
    MessageEvent(
        "appeal.status_changed", _l("Appeal: status changed"),
        {"name": _l("recipient's name"), "appeal_number": _l("appeal number"), "topic": _l("appeal topic"),
         "status": _l("new status as the customer sees it"), "comment": _l("staff comment (may be empty)"),
         "link": _l("link to the appeal in the portal")},
        {"name": "Иван", "appeal_number": "А-2026-000123", "topic": "Показания и приборы учёта",
         "status": "В работе", "comment": "", "link": "https://lk.example.ru/portal/appeals/123"}),
    MessageEvent(
        "appeal.escalated", _l("Appeal: response time exceeded (to the branch lead)"),
        {"appeal_number": _l("appeal number"), "topic": _l("appeal topic"), "status": _l("current status"),
         "due": _l("when the response was due"), "assignee": _l("who the appeal is assigned to (may be empty)"),
         "link": _l("link to the appeal in the back office")},
        {"appeal_number": "А-2026-000123", "topic": "Показания и приборы учёта", "status": "В работе",
         "due": "21.11.2026 18:00", "assignee": "Петрова Анна", "link": "https://lk.example.ru/admin/appeals/123"}),
    MessageEvent(
        "readings.reminder", _l("Readings window reminder"),
        {"opens": _l("true when the window is about to open, false when it is about to close"),
         "period": _l("billing period, e.g. «Февраль 2024»"), "start": _l("first day of the window"),
         "end": _l("last day of the window"), "contracts": _l("contracts: list of {number, url}")},
        {"opens": True, "period": "Февраль 2024", "start": "25.02.2024", "end": "05.03.2024",
         "contracts": _CONTRACTS_SAMPLE}),
    MessageEvent(
        "payment.receipt", _l("Payment receipt"),
        {"name": _l("payer's name or e-mail"), "contract_number": _l("contract number"), "purpose": _l("purpose"),
         "amount": _l("amount, formatted"), "paid_on": _l("payment date"), "payment_number": _l("payment number"),
         "documents": _l("paid documents: list of {number, date, amount_due}")},
        {"name": "Иван", "contract_number": "69572016050101", "purpose": "Оплата по договору 69572016050101",
         "amount": "12 500,00 ₽", "paid_on": "21.11.2026", "payment_number": "TA-000042",
         "documents": [{"number": "С-0201", "date": "01.02.2026", "amount_due": "0,00 ₽"}]}, mandatory_email=True),
    MessageEvent(
        "document.sent", _l("Document sent by e-mail"),
        {"name": _l("recipient's name"), "title": _l("document title"), "contract_number": _l("contract number")},
        {"name": "Иван", "title": "Счёт на оплату № С-0201 от 01.02.2026", "contract_number": "69572016050101"},
        mandatory_email=True),
    MessageEvent(
        "password.recovery", _l("Password recovery link"),
        {"name": _l("recipient's name"), "link": _l("recovery link"), "hours": _l("hours the link is valid")},
        {"name": "Иван", "link": "https://lk.example.ru/portal/recover/abc123", "hours": 1}, mandatory_email=True),
)}

LOCALES = ("ru", "en")
