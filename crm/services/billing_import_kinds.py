"""The kinds of the billing import: their columns, the lookups of one batch, the checks and the upsert.

Each kind loads what a batch needs with one query per entity (rows by external id and the records its
items refer to), checks every item against those rows and the batch's own items, and applies an item by
creating the row or changing only the fields that differ. Natural keys that the database keeps unique
(a contract's number, an object's code within its contract) are checked here so that the operator sees
a reason rather than a database error; a row entered by hand without an external id is adopted when its
natural key matches.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from flask_appbuilder.models.sqla import Model
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import false, or_, select
from sqlalchemy.orm import selectinload

from crm.extensions import db
from crm.models import (
    Branch,
    Contract,
    ContractEmail,
    Counterparty,
    EnergyObject,
    Meter,
    MeteringPoint,
    Register,
    Tariff,
)
from crm.models.contract import PRICE_CATEGORIES, ContractKind, ContractStatus
from crm.models.counterparty import PersonType
from crm.models.metering import Direction, TariffZone
from crm.services.billing_import_fields import (
    EXTERNAL_ID,
    Choice,
    Day,
    EmailList,
    Field,
    Flag,
    Integer,
    Number,
    RegisterList,
    Text,
    reference,
)
from crm.validators import is_valid_inn

MONEY = {"places": 2, "digits": 14}


def enum_values(enum) -> tuple[str, ...]:
    """The stored values of an enum, in declaration order."""
    return tuple(member.value for member in enum)


def _differs(row, name: str, value) -> bool:
    """Whether `row.name` differs from `value`; a relation is compared by its foreign key, so checking an
    unchanged row loads nothing."""
    if isinstance(value, Model):
        # A parent created in this batch has no id yet: the row cannot point at it already.
        return value.id is None or getattr(row, f"{name}_id") != value.id
    if value is None and name in _RELATIONS:
        return getattr(row, f"{name}_id") is not None
    return getattr(row, name) != value


_RELATIONS = {"counterparty", "branch", "tariff", "contract", "energy_object", "metering_point", "document"}


def _assign(row, values: dict[str, Any]) -> bool:
    """Set the attributes that differ; True when anything changed."""
    changed = False
    for name, value in values.items():
        if _differs(row, name, value):
            setattr(row, name, value)
            changed = True
    return changed


def _in(column, keys):
    """`column IN keys` (false when there are none)."""
    keys = sorted({key for key in keys if key is not None})
    return column.in_(keys) if keys else false()


class Kind:
    """An entity kind of the import; subclasses declare `name`, `model`, `fields` and the three steps."""

    name: str
    label: Any
    model: type
    fields: tuple[Field, ...]
    #: keys a read answers with that an upsert ignores (so a record read back can be sent again)
    read_only: tuple[str, ...] = ()

    def read_options(self) -> tuple:
        """Loader options so that exporting a page of rows costs one query per relation, not per row."""
        return ()

    def find(self, external_id: str):
        """The row with this external id, or None."""
        if "\x00" in external_id:  # never stored (Text refuses it); PostgreSQL would refuse the query
            return None
        return db.session.scalar(select(self.model).where(self.model.external_id == external_id))

    def page(self, after_id: int, limit: int) -> list:
        """Rows that have an external id, by id after `after_id` (keyset paging, like the readings API)."""
        return list(db.session.scalars(
            select(self.model).where(self.model.external_id.isnot(None), self.model.id > after_id)
            .order_by(self.model.id).limit(limit).options(*self.read_options())))

    def load(self, items, batch) -> None:
        """Find the rows the items name (one query per entity)."""
        rows = db.session.scalars(select(self.model).where(_in(self.model.external_id, ids_of(items))))
        batch.rows[self.name] = {row.external_id: row for row in rows}

    def check(self, item, batch) -> None:
        """Add a problem for each reference or key that does not hold."""

    def apply(self, item, batch) -> None:
        """Create or update the item's row and count the outcome."""
        values = {name: item.values[name] for name in self.columns}
        self.upsert(self.name, self.model, item.values["external_id"], values, batch, keep=kept(item, self.columns))

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.name != "external_id")

    def upsert(self, kind_name: str, model, external_id: str, values: dict, batch, row=None,
               also_changed: bool = False, keep: set[str] = frozenset()):
        """Create the row or change what differs — except the attributes in `keep`, which the item left
        out; count created/updated/unchanged under `kind_name`."""
        rows = batch.rows.setdefault(kind_name, {})
        row = row if row is not None else rows.get(external_id)
        if row is None:
            row = model(external_id=external_id, **values)
            db.session.add(row)
            batch.count(kind_name, "created")
        else:
            values = {name: value for name, value in values.items() if name not in keep}
            changed = _assign(row, {"external_id": external_id, **values}) or also_changed
            batch.count(kind_name, "updated" if changed else "unchanged")
        rows[external_id] = row
        return row

    def export(self, row) -> dict:
        """The row as the JSON of its upsert."""
        return {f.name: f.dump(getattr(row, f.name, None)) for f in self.fields}

    def refer(self, item, batch, column: str, kind_name: str, label) -> None:
        """A problem when the item's `column` names a record of `kind_name` that does not exist."""
        external_id = item.values.get(column)
        if external_id is not None and not batch.known(kind_name, external_id):
            batch.problem(self.name, item, column, _("No %(what)s with the external id %(id)s.",
                                                     what=label, id=external_id))


def kept(item, columns, attrs: dict[str, str] | None = None) -> set[str]:
    """The attributes an update keeps: those of the `columns` the item left out (`attrs` maps column → attr)."""
    return {(attrs or {}).get(column, column) for column in columns if column in item.absent}


def ids_of(items, column: str = "external_id") -> set[str]:
    """The distinct non-empty values of `column` in the items."""
    return {item.values.get(column) for item in items} - {None}


def load_refs(batch, kind_name: str, model, external_ids: set[str], *options) -> None:
    """Rows of another kind referred to by external id, added to what the batch knows."""
    known = batch.rows.setdefault(kind_name, {})
    missing = external_ids - set(known)
    if missing:
        for row in db.session.scalars(select(model).where(model.external_id.in_(sorted(missing))).options(*options)):
            known[row.external_id] = row


def contract_of(batch, external_id: str):
    """The contract row with this external id (found or created in this batch), or None."""
    return batch.rows.get("contracts", {}).get(external_id)


class Tariffs(Kind):
    name, label, model = "tariffs", _l("Tariffs"), Tariff
    fields = (
        EXTERNAL_ID,
        Text("group_code", required=True, max_length=32, description=_l("Tariff group code."), example="НАС-1"),
        Text("name", required=True, description=_l("Tariff name."), example="Население, одноставочный"),
        Choice("zone", default=TariffZone.ALL_DAY.value, values=enum_values(TariffZone),
               description=_l("Tariff zone."), example="day"),
        Number("rate", required=True, places=5, digits=12, minimum=Decimal(0),
               description=_l("Rate per unit, roubles."), example=Decimal("5.47")),
        Text("unit", default="кВт·ч", max_length=16, description=_l("Unit."), example="кВт·ч"),
        Day("valid_from", required=True, description=_l("Valid from."), example=date(2026, 1, 1)),
        Day("valid_to", description=_l("Valid to (inclusive); empty: open-ended.")),
    )

    def check(self, item, batch) -> None:
        start, end = item.values.get("valid_from"), item.values.get("valid_to")
        if start and end and end < start:
            batch.problem(self.name, item, "valid_to", _("Earlier than the start date."))


class Contracts(Kind):
    """Contracts with their counterparty (upserted by its own external id), branch by code, tariff."""

    name, label, model = "contracts", _l("Contracts"), Contract
    counterparty_columns = {
        "counterparty_name": "full_name", "counterparty_short_name": "short_name", "person_type": "person_type",
        "inn": "inn", "kpp": "kpp", "ogrn": "ogrn", "legal_address": "legal_address",
        "postal_address": "postal_address", "counterparty_phone": "phone", "counterparty_email": "email",
    }
    contract_columns = ("number", "account_number", "kind", "status", "signed_on", "starts_on", "ends_on",
                        "price_category", "contract_volume", "opening_balance", "opening_balance_on")
    fields = (
        EXTERNAL_ID,
        Text("number", required=True, max_length=14, pattern=r"\d{14}",
             pattern_message=_l("The contract number is 14 digits."), description=_l("Contract number (14 digits)."),
             example="77010000000123"),
        Text("account_number", max_length=20, description=_l("Personal account number."), example="1000123"),
        reference("counterparty_external_id", _l("The counterparty's id in the billing system.")),
        Text("counterparty_name", required=True, max_length=500, description=_l("Counterparty's full name."),
             example="Общество с ограниченной ответственностью «Ромашка»"),
        Text("counterparty_short_name", description=_l("Counterparty's short name; empty: the full name."),
             example="ООО «Ромашка»"),
        Choice("person_type", default=PersonType.LEGAL.value, values=enum_values(PersonType),
               description=_l("Legal entity, sole proprietor or individual."), example="legal"),
        Text("inn", required=True, max_length=12, pattern=r"\d{10}|\d{12}",
             pattern_message=_l("The INN is 10 or 12 digits."), description=_l("INN."), example="7707083893"),
        Text("kpp", max_length=9, pattern=r"\d{9}", pattern_message=_l("The KPP is 9 digits."),
             description=_l("KPP."), example="773601001"),
        Text("ogrn", max_length=15, pattern=r"\d{13}|\d{15}", pattern_message=_l("The OGRN is 13 or 15 digits."),
             description=_l("OGRN.")),
        Text("legal_address", max_length=500, description=_l("Legal address.")),
        Text("postal_address", max_length=500, description=_l("Postal address.")),
        Text("counterparty_phone", max_length=64, description=_l("Counterparty's phone.")),
        Text("counterparty_email", max_length=320, description=_l("Counterparty's e-mail.")),
        Text("branch_code", required=True, max_length=8, description=_l("Code of the branch serving the contract."),
             example="01"),
        Choice("kind", default=ContractKind.ELECTRICITY.value, values=enum_values(ContractKind),
               description=_l("Electricity or heat."), example="electricity"),
        Choice("status", default=ContractStatus.ACTIVE.value, values=enum_values(ContractStatus),
               description=_l("Contract status."), example="active"),
        Day("signed_on", required=True, description=_l("Signing date."), example=date(2025, 12, 20)),
        Day("starts_on", required=True, description=_l("Start of supply."), example=date(2026, 1, 1)),
        Day("ends_on", description=_l("End of the contract; empty: open-ended.")),
        Choice("price_category", values=PRICE_CATEGORIES, description=_l("Price category (I–VI).")),
        Number("contract_volume", places=4, digits=18, minimum=Decimal(0),
               description=_l("Contract volume per month.")),
        Number("opening_balance", default=Decimal("0"), **MONEY,
               description=_l("Opening balance, roubles (positive: the customer owes)."), example=Decimal("0")),
        Day("opening_balance_on", description=_l("Date of the opening balance.")),
        reference("tariff_external_id", _l("External id of the contract's tariff."), required=False),
        EmailList("emails", description=_l("E-mails registered on the contract, separated by commas: a customer "
                                           "who proves one of them may bind the contract in the portal."),
                  example=("buh@romashka.example",)),
    )

    def load(self, items, batch) -> None:
        rows = list(db.session.scalars(select(Contract).where(or_(
            _in(Contract.external_id, ids_of(items)), _in(Contract.number, ids_of(items, "number")),
            _in(Contract.account_number, ids_of(items, "account_number")))).options(selectinload(Contract.emails))))
        batch.rows[self.name] = {row.external_id: row for row in rows if row.external_id}
        load_refs(batch, "counterparties", Counterparty, ids_of(items, "counterparty_external_id"))
        load_refs(batch, "tariffs", Tariff, ids_of(items, "tariff_external_id"))
        codes = ids_of(items, "branch_code")
        branches = db.session.scalars(select(Branch).where(_in(Branch.code, codes))) if codes else []
        batch.state[self.name] = {
            "owners": {"number": {row.number: row for row in rows},
                       "account_number": {row.account_number: row for row in rows if row.account_number}},
            "branches": {branch.code: branch for branch in branches},
            "seen": {"number": {}, "account_number": {}}, "counterparties": {}, "applied": set(),
        }

    def target(self, values, batch):
        """The row an item updates: by external id, else a contract with its number and no external id."""
        row = batch.rows[self.name].get(values["external_id"])
        if row is None:
            row = batch.state[self.name]["owners"]["number"].get(values.get("number"))
            if row is not None and row.external_id is not None:
                row = None
        return row

    def check(self, item, batch) -> None:
        values, state = item.values, batch.state[self.name]
        if values.get("inn") and not is_valid_inn(values["inn"]):
            batch.problem(self.name, item, "inn", _("The INN's check digits are wrong."))
        if values.get("branch_code") and values["branch_code"] not in state["branches"]:
            batch.problem(self.name, item, "branch_code", _("No branch with the code %(code)s.",
                                                            code=values["branch_code"]))
        self.refer(item, batch, "tariff_external_id", "tariffs", _("tariff"))
        if values.get("ends_on") and values.get("starts_on") and values["ends_on"] < values["starts_on"]:
            batch.problem(self.name, item, "ends_on", _("Earlier than the start date."))
        target = self.target(values, batch)
        for column in ("number", "account_number"):
            key, seen = values.get(column), state["seen"][column]
            if key is None:
                continue
            owner = state["owners"][column].get(key)
            if owner is not None and owner is not target:
                batch.problem(self.name, item, column, _("%(value)s already belongs to another contract.",
                                                         value=key))
            elif key in seen:
                batch.problem(self.name, item, column, _("%(value)s is repeated: it is already in %(where)s.",
                                                         value=key, where=batch.where(seen[key])))
            else:
                seen[key] = item.number
        self._check_counterparty(item, batch)

    def _check_counterparty(self, item, batch) -> None:
        external_id = item.values.get("counterparty_external_id")
        if external_id is None:
            return
        first = batch.state[self.name]["counterparties"].setdefault(external_id, item)
        if first is item:
            return
        for column in self.counterparty_columns:
            if item.values.get(column) != first.values.get(column):
                batch.problem(self.name, item, column, _("The counterparty's details differ from %(where)s.",
                                                         where=batch.where(first.number)))

    def apply(self, item, batch) -> None:
        values, state = item.values, batch.state[self.name]
        counterparty_id = values["counterparty_external_id"]
        if counterparty_id not in state["applied"]:
            fields = {attr: values[column] for column, attr in self.counterparty_columns.items()}
            fields["short_name"] = fields["short_name"] or fields["full_name"][:255]
            self.upsert("counterparties", Counterparty, counterparty_id, fields, batch,
                        keep=kept(item, self.counterparty_columns, self.counterparty_columns))
            state["applied"].add(counterparty_id)
        fields = {column: values[column] for column in self.contract_columns}
        fields["counterparty"] = batch.rows["counterparties"][counterparty_id]
        fields["branch"] = state["branches"][values["branch_code"]]
        tariff_id = values.get("tariff_external_id")
        fields["tariff"] = batch.rows["tariffs"][tariff_id] if tariff_id else None
        keep = kept(item, (*self.contract_columns, "tariff_external_id"), {"tariff_external_id": "tariff"})
        target = self.target(values, batch)
        emails_changed = (target is not None and "emails" not in item.absent
                          and _sync_emails(target, values["emails"]))
        contract = self.upsert(self.name, Contract, values["external_id"], fields, batch, row=target, keep=keep,
                               also_changed=emails_changed)
        if target is None:
            _sync_emails(contract, values["emails"])

    def read_options(self) -> tuple:
        return (selectinload(Contract.counterparty), selectinload(Contract.branch), selectinload(Contract.tariff),
                selectinload(Contract.emails))

    def export(self, row) -> dict:
        result = {f.name: f.dump(getattr(row, f.name, None)) for f in self.fields
                  if f.name in self.contract_columns or f.name == "external_id"}
        counterparty = row.counterparty
        specs = {f.name: f for f in self.fields}
        for column, attr in self.counterparty_columns.items():
            result[column] = specs[column].dump(getattr(counterparty, attr))
        result["counterparty_external_id"] = counterparty.external_id
        result["branch_code"] = row.branch.code
        result["tariff_external_id"] = row.tariff.external_id if row.tariff else None
        result["emails"] = sorted(email.email for email in row.emails)
        return {f.name: result[f.name] for f in self.fields}


def _sync_emails(contract, wanted: tuple[str, ...]) -> bool:
    """Make the contract's e-mails exactly `wanted`; True when anything changed."""
    current = {email.email.lower(): email for email in contract.emails}
    changed = False
    for address, email in current.items():
        if address not in wanted:
            contract.emails.remove(email)
            changed = True
    for address in wanted:
        if address not in current:
            contract.emails.append(ContractEmail(email=address))
            changed = True
    return changed


class Objects(Kind):
    name, label, model = "objects", _l("Energy objects"), EnergyObject
    fields = (
        EXTERNAL_ID,
        reference("contract_external_id", _l("External id of the contract.")),
        Text("code", required=True, max_length=32, description=_l("Object code within the contract."),
             example="EO-0001"),
        Text("name", required=True, description=_l("Object name."), example="Цех № 1"),
        Text("address", max_length=500, description=_l("Address."), example="г. Москва, ул. Заводская, д. 1"),
    )

    def load(self, items, batch) -> None:
        load_refs(batch, "contracts", Contract, ids_of(items, "contract_external_id"))
        rows = list(db.session.scalars(select(EnergyObject).where(or_(
            _in(EnergyObject.external_id, ids_of(items)), _in(EnergyObject.code, ids_of(items, "code"))))))
        batch.rows[self.name] = {row.external_id: row for row in rows if row.external_id}
        batch.state[self.name] = {"by_code": {(row.contract_id, row.code): row for row in rows}, "seen": {}}

    def owner(self, values, batch):
        """The object that holds the item's code in its contract, if the contract exists already."""
        contract = contract_of(batch, values.get("contract_external_id"))
        if contract is None or contract.id is None:
            return None
        return batch.state[self.name]["by_code"].get((contract.id, values.get("code")))

    def target(self, values, batch):
        """The row an item updates: by external id, else the contract's object with its code and no id."""
        row = batch.rows[self.name].get(values["external_id"])
        if row is None:
            row = self.owner(values, batch)
            if row is not None and row.external_id is not None:
                row = None
        return row

    def check(self, item, batch) -> None:
        self.refer(item, batch, "contract_external_id", "contracts", _("contract"))
        contract_id, code = item.values.get("contract_external_id"), item.values.get("code")
        if contract_id is None or code is None:
            return
        seen = batch.state[self.name]["seen"]
        owner = self.owner(item.values, batch)
        if owner is not None and owner is not self.target(item.values, batch):
            batch.problem(self.name, item, "code", _("The contract already has another object with the code "
                                                     "%(code)s.", code=code))
        elif (contract_id, code) in seen:
            batch.problem(self.name, item, "code", _("%(value)s is repeated: it is already in %(where)s.",
                                                     value=code, where=batch.where(seen[contract_id, code])))
        else:
            seen[contract_id, code] = item.number

    def apply(self, item, batch) -> None:
        values = item.values
        fields = {"contract": contract_of(batch, values["contract_external_id"]), "code": values["code"],
                  "name": values["name"], "address": values["address"]}
        self.upsert(self.name, EnergyObject, values["external_id"], fields, batch, row=self.target(values, batch),
                    keep=kept(item, ("address",)))

    def read_options(self) -> tuple:
        return (selectinload(EnergyObject.contract),)

    def export(self, row) -> dict:
        return {"external_id": row.external_id, "contract_external_id": row.contract.external_id, "code": row.code,
                "name": row.name, "address": row.address}


class Meters(Kind):
    """Meters with their metering point (ratio, losses) and registers (zones × directions)."""

    name, label, model = "meters", _l("Meters"), Meter
    point_columns = {"point_name": "name", "voltage_level": "voltage_level",
                     "transformation_ratio": "transformation_ratio", "losses_percent": "losses_percent"}
    meter_columns = ("serial", "model", "digits_integer", "digits_fraction", "verification_date",
                     "next_verification_date", "interval_metering")
    fields = (
        EXTERNAL_ID,
        reference("object_external_id", _l("External id of the energy object.")),
        reference("point_external_id", _l("External id of the metering point; empty: the meter's own."),
                  required=False),
        Text("point_name", description=_l("Metering point name; empty: the meter's serial number."),
             example="ТУ-1 ввод 0,4 кВ"),
        Text("voltage_level", max_length=16, description=_l("Voltage level."), example="НН"),
        Number("transformation_ratio", default=Decimal("1"), places=4, digits=12, minimum=Decimal("0.0001"),
               description=_l("Transformation ratio (1 without instrument transformers)."), example=Decimal("40")),
        Number("losses_percent", default=Decimal("0"), places=3, digits=6, minimum=Decimal(0),
               maximum=Decimal(100), description=_l("Losses, percent."), example=Decimal("1.5")),
        Text("serial", required=True, max_length=64, description=_l("Serial number."), example="01234567"),
        Text("model", max_length=128, description=_l("Meter model."), example="Меркурий 230"),
        Integer("digits_integer", default=6, minimum=1, maximum=12, description=_l("Integer digits of the dial."),
                example=6),
        Integer("digits_fraction", default=2, minimum=0, maximum=4, description=_l("Fraction digits of the dial."),
                example=2),
        Day("verification_date", description=_l("Date of the last verification.")),
        Day("next_verification_date", description=_l("Date of the next verification.")),
        Flag("interval_metering", description=_l("Hourly (interval) metering: 1 or 0."), example=False),
        RegisterList("registers", default=((Direction.IMPORT.value, TariffZone.ALL_DAY.value),),
                     zones=enum_values(TariffZone), directions=enum_values(Direction),
                     description=_l("Registers as direction:zone, comma-separated; empty: A+:all_day."),
                     example=(("A+", "day"), ("A+", "night"))),
    )

    def load(self, items, batch) -> None:
        rows = db.session.scalars(select(Meter).where(_in(Meter.external_id, ids_of(items)))
                                  .options(selectinload(Meter.registers)))
        batch.rows[self.name] = {row.external_id: row for row in rows}
        load_refs(batch, "objects", EnergyObject, ids_of(items, "object_external_id"))
        load_refs(batch, "metering_points", MeteringPoint, {self._point_id(item) for item in items} - {None})
        batch.state[self.name] = {"points": {}, "applied": set()}

    @staticmethod
    def _point_id(item):
        return item.values.get("point_external_id") or item.values.get("external_id")

    def check(self, item, batch) -> None:
        self.refer(item, batch, "object_external_id", "objects", _("energy object"))
        first = batch.state[self.name]["points"].setdefault(self._point_id(item), item)
        if first is item:
            return
        for column in ("object_external_id", *self.point_columns):
            if item.values.get(column) != first.values.get(column):
                batch.problem(self.name, item, column, _("The metering point's details differ from %(where)s.",
                                                         where=batch.where(first.number)))

    def apply(self, item, batch) -> None:
        values, state = item.values, batch.state[self.name]
        point_id = self._point_id(item)
        if point_id not in state["applied"]:
            fields = {attr: values[column] for column, attr in self.point_columns.items()}
            fields["name"] = fields["name"] or values["serial"]
            fields["energy_object"] = batch.rows["objects"][values["object_external_id"]]
            self.upsert("metering_points", MeteringPoint, point_id, fields, batch,
                        keep=kept(item, self.point_columns, self.point_columns))
            state["applied"].add(point_id)
        fields = {column: values[column] for column in self.meter_columns}
        fields["metering_point"] = batch.rows["metering_points"][point_id]
        meter = batch.rows[self.name].get(values["external_id"])
        registers_changed = (meter is not None and "registers" not in item.absent
                             and self._sync_registers(meter, values["registers"]))
        meter = self.upsert(self.name, Meter, values["external_id"], fields, batch, also_changed=registers_changed,
                            keep=kept(item, self.meter_columns))
        if not meter.registers:
            self._sync_registers(meter, values["registers"])

    @staticmethod
    def _sync_registers(meter, wanted) -> bool:
        """Add missing registers and set positions; registers not listed are kept (readings hang off them)."""
        changed = False
        existing = {(r.direction, r.zone): r for r in meter.registers}
        for position, (direction, zone) in enumerate(wanted):
            register = existing.get((direction, zone))
            if register is None:
                meter.registers.append(Register(direction=direction, zone=zone, position=position))
                changed = True
            elif register.position != position:
                register.position = position
                changed = True
        return changed

    def read_options(self) -> tuple:
        return (selectinload(Meter.registers),
                selectinload(Meter.metering_point).selectinload(MeteringPoint.energy_object))

    def export(self, row) -> dict:
        point = row.metering_point
        result = {column: getattr(row, column) for column in self.meter_columns}
        result.update({column: getattr(point, attr) for column, attr in self.point_columns.items()})
        result.update(external_id=row.external_id, object_external_id=point.energy_object.external_id,
                      point_external_id=point.external_id,
                      registers=tuple((r.direction, r.zone) for r in row.registers))
        return {f.name: f.dump(result[f.name]) for f in self.fields}


TARIFFS, CONTRACTS, OBJECTS, METERS = Tariffs(), Contracts(), Objects(), Meters()
