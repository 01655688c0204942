"""The contract card as an xlsx workbook (SPEC C5): details, requisites, bank details, the user's role,
and the objects and meters within the user's object scope.

Built in memory with xlsxwriter (a card is small); labels follow the request's locale.
"""
from __future__ import annotations

import io
from datetime import date

import xlsxwriter
from flask_babel import gettext as _

from crm.access import ContractGrant
from crm.services.contract_access import role_label
from crm.services.contracts import ContractCard, contract_card

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def file_name(grant: ContractGrant) -> str:
    """The download's name, e.g. «Карточка договора 77000000000001.xlsx»."""
    return _("Contract card %(number)s.xlsx", number=grant.contract.number)


def _text(value) -> str:
    return "" if value is None else str(value)


def card_sections(card: ContractCard, grant: ContractGrant) -> list[tuple[str, list[tuple[str, object]]]]:
    """The card's label/value pairs by section (the first sheet), shared by tests."""
    contract = card.contract
    cp = contract.counterparty
    branch = contract.branch
    return [
        (_("Contract details"), [
            (_("Contract number"), contract.number),
            (_("Account number"), contract.account_number),
            (_("Signed on"), contract.signed_on),
            (_("Valid from"), contract.starts_on),
            (_("Valid until"), contract.ends_on or _("Indefinite")),
            (_("Kind"), _("Electricity") if contract.kind == "electricity" else _("Heat supply")),
            (_("Price category"), contract.price_category),
            (_("Branch"), branch.name if branch else None),
            (_("Your role"), role_label(grant.role)),
        ]),
        (_("Counterparty"), [
            (_("Full name"), cp.full_name),
            (_("Short name"), cp.short_name),
            (_("INN"), cp.inn),
            (_("KPP"), cp.kpp),
            (_("OGRN"), cp.ogrn),
            (_("OKPO"), cp.okpo),
            (_("Partner code"), cp.partner_code),
            (_("Legal address"), cp.legal_address),
            (_("Postal address"), cp.postal_address),
            (_("Phone"), cp.phone),
            (_("E-mail"), cp.email),
        ]),
        (_("Bank details"), [
            (_("Bank"), cp.bank_name),
            (_("BIK"), cp.bank_bik),
            (_("Settlement account"), cp.bank_account),
            (_("Correspondent account"), cp.bank_corr_account),
        ]),
    ]


def meter_rows(card: ContractCard) -> list[list[object]]:
    """One row per meter (an object without meters still gets a row), within the user's scope."""
    rows = []
    for obj in card.energy_objects:
        meters = [(point, meter) for point in obj.metering_points for meter in point.meters]
        if not meters:
            rows.append([obj.code, obj.name, obj.address, None, None, None, None])
        for point, meter in meters:
            rows.append([obj.code, obj.name, obj.address, point.name, meter.serial, meter.model,
                         meter.next_verification_date])
    return rows


def contract_card_xlsx(grant: ContractGrant) -> bytes:
    """The workbook's bytes."""
    card = contract_card(grant)
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    title = workbook.add_format({"bold": True, "font_size": 14})
    heading = workbook.add_format({"bold": True, "bg_color": "#E7EEF7", "border": 1})
    label = workbook.add_format({"bold": True, "valign": "top"})
    wrap = workbook.add_format({"text_wrap": True, "valign": "top"})
    day = workbook.add_format({"num_format": "dd.mm.yyyy", "align": "left", "valign": "top"})

    sheet = workbook.add_worksheet(_("Contract")[:31])
    sheet.set_column(0, 0, 28)
    sheet.set_column(1, 1, 70)
    sheet.write(0, 0, _("Contract No. %(number)s", number=card.contract.number), title)
    row = 2
    for section, pairs in card_sections(card, grant):
        sheet.merge_range(row, 0, row, 1, section, heading)
        row += 1
        for name, value in pairs:
            sheet.write_string(row, 0, name, label)
            if isinstance(value, date):
                sheet.write_datetime(row, 1, value, day)
            else:
                sheet.write_string(row, 1, _text(value), wrap)
            row += 1
        row += 1

    objects = workbook.add_worksheet(_("Objects and meters")[:31])
    headers = [_("Object code"), _("Object"), _("Address"), _("Metering point"), _("Meter number"),
               _("Model"), _("Next verification")]
    for col, (header, width) in enumerate(zip(headers, (14, 36, 44, 28, 18, 20, 16), strict=True)):
        objects.set_column(col, col, width)
        objects.write_string(0, col, header, heading)
    for r, values in enumerate(meter_rows(card), start=1):
        for col, value in enumerate(values):
            if isinstance(value, date):
                objects.write_datetime(r, col, value, day)
            else:
                objects.write_string(r, col, _text(value))
    objects.freeze_panes(1, 0)
    workbook.close()
    return buffer.getvalue()
