"""The money kinds of the billing import: billing documents (with their PDF) and payments.

See `crm.services.billing_import_kinds` for how a kind loads, checks and applies a batch.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload

from crm.models import BillingDocument, Contract, Payment
from crm.models.billing import DocumentType, PaymentStatus, SaleKind
from crm.services.billing_import_fields import EXTERNAL_ID, Choice, Day, Month, Number, Pdf, Text, reference
from crm.services.billing_import_kinds import MONEY, Kind, contract_of, enum_values, ids_of, kept, load_refs


class Documents(Kind):
    name, label, model = "documents", _l("Billing documents"), BillingDocument
    read_only = ("has_pdf",)
    fields = (
        EXTERNAL_ID,
        reference("contract_external_id", _l("External id of the contract.")),
        Choice("doc_type", required=True, values=enum_values(DocumentType), description=_l("Document type."),
               example="invoice"),
        Text("number", required=True, max_length=64, description=_l("Document number."), example="СФ-000123"),
        Day("doc_date", required=True, description=_l("Document date."), example=date(2026, 1, 31)),
        Month("period", description=_l("Billing period (month)."), example=date(2026, 1, 1)),
        Choice("sale_kind", default=SaleKind.MAIN.value, values=enum_values(SaleKind),
               description=_l("Main sale, advance or penalty."), example="main"),
        Number("amount", required=True, **MONEY, description=_l("Amount, roubles."), example=Decimal("1116218.00")),
        Number("amount_due", required=True, **MONEY, description=_l("Amount still unpaid, roubles."),
               example=Decimal("1116218.00")),
        Day("due_date", description=_l("Payment due date."), example=date(2026, 2, 18)),
        Pdf("pdf", description=_l("The document's PDF in base64 (optional; or PUT …/documents/<external_id>/pdf).")),
    )
    columns = ("doc_type", "number", "doc_date", "period", "sale_kind", "amount", "amount_due", "due_date")

    def load(self, items, batch) -> None:
        super().load(items, batch)
        load_refs(batch, "contracts", Contract, ids_of(items, "contract_external_id"))

    def check(self, item, batch) -> None:
        self.refer(item, batch, "contract_external_id", "contracts", _("contract"))

    def apply(self, item, batch) -> None:
        values = item.values
        fields = {column: values[column] for column in self.columns}
        fields["contract"] = contract_of(batch, values["contract_external_id"])
        document = batch.rows[self.name].get(values["external_id"])
        pdf = values.get("pdf")
        pdf_changed = document is not None and pdf is not None and store_pdf(document, pdf, batch)
        document = self.upsert(self.name, BillingDocument, values["external_id"], fields, batch,
                               also_changed=pdf_changed, keep=kept(item, self.columns))
        if pdf is not None and document.file_key is None:
            store_pdf(document, pdf, batch)

    def read_options(self) -> tuple:
        return (selectinload(BillingDocument.contract),)

    def export(self, row) -> dict:
        result = super().export(row) | {"contract_external_id": row.contract.external_id}
        result["has_pdf"] = bool(row.file_key)
        return result


def store_pdf(document, data: bytes, batch) -> bool:
    """Store a document's PDF unless the stored one is the same; True when the file changed."""
    from crm.storage import StorageError, get_storage

    storage = get_storage()
    if document.file_key:
        try:
            with storage.open(document.file_key) as stored:
                if stored.read() == data:
                    return False
        except StorageError:
            pass                  # the stored file is gone: store the new one in its place
        batch.old_files.append(document.file_key)
    key = storage.put("documents", data, ".pdf")
    batch.new_files.append(key)
    document.file_key = key
    return True


class Payments(Kind):
    name, label, model = "payments", _l("Payments"), Payment
    fields = (
        EXTERNAL_ID,
        reference("contract_external_id", _l("External id of the contract.")),
        reference("document_external_id", _l("External id of the paid document, if any."), required=False),
        Text("number", max_length=64, description=_l("Payment order number."), example="000457"),
        Day("paid_on", required=True, description=_l("Payment date."), example=date(2026, 2, 10)),
        Number("amount", required=True, **MONEY, description=_l("Amount, roubles."), example=Decimal("979990.44")),
        Choice("status", default=PaymentStatus.PAID.value, values=enum_values(PaymentStatus),
               description=_l("Payment status."), example="paid"),
        Text("bank", description=_l("Payer's bank."), example="ПАО Сбербанк"),
        Text("purpose", max_length=500, description=_l("Purpose of payment.")),
        Choice("channel", default="bank", values=("bank", "portal"), description=_l("How the money came."),
               example="bank"),
    )
    columns = ("number", "paid_on", "amount", "status", "bank", "purpose", "channel")

    def load(self, items, batch) -> None:
        super().load(items, batch)
        load_refs(batch, "contracts", Contract, ids_of(items, "contract_external_id"))
        load_refs(batch, "documents", BillingDocument, ids_of(items, "document_external_id"))

    def check(self, item, batch) -> None:
        self.refer(item, batch, "contract_external_id", "contracts", _("contract"))
        self.refer(item, batch, "document_external_id", "documents", _("billing document"))
        contract_id, document_id = item.values.get("contract_external_id"), item.values.get("document_external_id")
        if not (contract_id and document_id and batch.known("documents", document_id)):
            return
        planned = batch.planned.get("documents", {}).get(document_id)
        if planned is not None:
            same = planned.values.get("contract_external_id") == contract_id
        else:
            contract = contract_of(batch, contract_id)
            same = contract is not None and batch.rows["documents"][document_id].contract_id == contract.id
        if not same:
            batch.problem(self.name, item, "document_external_id",
                          _("The document belongs to another contract."))

    def apply(self, item, batch) -> None:
        values = item.values
        fields = {column: values[column] for column in self.columns}
        fields["contract"] = contract_of(batch, values["contract_external_id"])
        document_id = values.get("document_external_id")
        fields["document"] = batch.rows["documents"][document_id] if document_id else None
        keep = kept(item, (*self.columns, "document_external_id"), {"document_external_id": "document"})
        self.upsert(self.name, Payment, values["external_id"], fields, batch, keep=keep)

    def read_options(self) -> tuple:
        return (selectinload(Payment.contract), selectinload(Payment.document))

    def export(self, row) -> dict:
        return super().export(row) | {"contract_external_id": row.contract.external_id,
                                      "document_external_id": row.document.external_id if row.document else None}


DOCUMENTS, PAYMENTS = Documents(), Payments()
