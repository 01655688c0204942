"""Households (SPEC C17) [001 §§3–9]: an individual's houses, each with one personal account.

A house is a name and an address the user chooses plus one account (a contract of an individual
counterparty). Adding a house proves possession of the account the way the seed does: its account
number and the serial number of a meter on it. The house then gives the user the "manager" role on
that contract (the role signing up by account number gives, `crm.services.signup`), so every
contract page and service (readings, payments) keeps asking the one permission matrix; removing the
house takes that role away again unless another house of the user still uses the account.

Read helpers (`house_summaries`, `house_detail`, `amount_to_pay`) never commit and
issue a constant number of statements whatever the number of houses, meters or rows. Money and
quantities stay `Decimal`; amounts are rounded to kopecks half up.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from flask_babel import gettext as _
from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from crm import clock
from crm.extensions import db
from crm.models import (
    BillingDocument,
    Contract,
    ContractAccess,
    ContractRole,
    Counterparty,
    EnergyObject,
    Meter,
    MeteringPoint,
    Payment,
    PaymentStatus,
    PaymentTerm,
    Reading,
    ReadingStatus,
    Register,
    Tariff,
)
from crm.models.counterparty import PersonType
from crm.models.household import House
from crm.services import ServiceError, audit, settlements

KOPECK = Decimal("0.01")
NAME_MAX, ADDRESS_MAX, LABEL_MAX = 128, 500, 128


class HouseholdError(ServiceError):
    """A household change was refused; `errors` maps each field to its message (nothing was changed)."""

    def __init__(self, errors: dict[str, str], status: int = 400):
        super().__init__(" ".join(errors.values()), field=next(iter(errors)), status=status)
        self.errors = errors


class HouseNotFoundError(ServiceError):
    """No such house among the user's own (answered 404: another user's house is not revealed)."""

    def __init__(self):
        super().__init__(_("There is no such house in your account."), status=404)


def money(value: Decimal) -> Decimal:
    """Rubles rounded to kopecks, half up."""
    return Decimal(value).quantize(KOPECK, rounding=ROUND_HALF_UP)


# --- reading: houses, meters, last readings --------------------------------------------------------

@dataclass
class MeterInfo:
    """A meter of the account with its registers (in position order) and each register's last reading."""

    meter: Meter
    registers: list[Register]
    last: dict[int, Reading] = field(default_factory=dict)        # register id → latest non-rejected reading

    @property
    def label(self) -> str:
        """The user's name for the meter, or its model and serial number."""
        return self.meter.customer_label or str(self.meter)

    @property
    def last_period(self) -> date | None:
        periods = [reading.period for reading in self.last.values()]
        return max(periods) if periods else None


@dataclass
class HouseSummary:
    house: House
    meters: list[MeterInfo]
    balance: Decimal | None                  # > 0 debt, < 0 overpayment, None without access
    accessible: bool = True                  # the user still has a confirmed role on the account's contract

    @property
    def contract(self) -> Contract:
        return self.house.contract

    @property
    def last_reading(self) -> tuple[date, list[tuple[MeterInfo, Register, Reading]]] | None:
        """The latest period read on the account and the readings of that period, meter by meter."""
        periods = [info.last_period for info in self.meters if info.last_period]
        if not periods:
            return None
        latest = max(periods)
        rows = [(info, register, info.last[register.id]) for info in self.meters for register in info.registers
                if register.id in info.last and info.last[register.id].period == latest]
        return latest, rows


def _houses_query(user_id: int):
    return (select(House).where(House.user_id == user_id)
            .options(joinedload(House.contract).joinedload(Contract.counterparty),
                     joinedload(House.contract).joinedload(Contract.tariff))
            .order_by(House.name, House.id))


def houses_of(user) -> list[House]:
    """The user's houses in name order, account loaded (one statement)."""
    return list(db.session.scalars(_houses_query(user.id)).unique())


def meters_of(contract_ids: Iterable[int]) -> dict[int, list[MeterInfo]]:
    """contract id → its meters (registers loaded, last readings filled); three statements."""
    ids = sorted(set(contract_ids))
    result: dict[int, list[MeterInfo]] = {cid: [] for cid in ids}
    if not ids:
        return result
    rows = db.session.execute(
        select(Meter, EnergyObject.contract_id)
        .join(MeteringPoint, Meter.metering_point_id == MeteringPoint.id)
        .join(EnergyObject, MeteringPoint.energy_object_id == EnergyObject.id)
        .where(EnergyObject.contract_id.in_(ids))
        .order_by(EnergyObject.code, MeteringPoint.name, Meter.serial, Meter.id)
        .options(selectinload(Meter.registers))
    ).all()
    by_register: dict[int, MeterInfo] = {}
    for meter, contract_id in rows:
        info = MeterInfo(meter, sorted(meter.registers, key=lambda r: (r.position, r.id)))
        result[contract_id].append(info)
        for register in info.registers:
            by_register[register.id] = info
    for reading in _last_readings(ids):
        info = by_register.get(reading.register_id)
        if info is not None:
            info.last.setdefault(reading.register_id, reading)
    return result


def _register_scope(contract_ids: list[int]):
    return (select(Register.id).join(Meter, Register.meter_id == Meter.id)
            .join(MeteringPoint, Meter.metering_point_id == MeteringPoint.id)
            .join(EnergyObject, MeteringPoint.energy_object_id == EnergyObject.id)
            .where(EnergyObject.contract_id.in_(contract_ids)))


def _last_readings(contract_ids: list[int]) -> list[Reading]:
    """The latest non-rejected reading of every register of the contracts (one statement)."""
    not_rejected = Reading.status != ReadingStatus.REJECTED.value
    latest = (select(Reading.register_id, func.max(Reading.period).label("period"))
              .where(Reading.register_id.in_(_register_scope(contract_ids)), not_rejected)
              .group_by(Reading.register_id).subquery())
    return list(db.session.scalars(
        select(Reading).join(latest, and_(Reading.register_id == latest.c.register_id,
                                          Reading.period == latest.c.period))
        .where(not_rejected).order_by(Reading.submitted_at.desc(), Reading.id.desc())))


def balances_on(contracts: list[Contract], day: date) -> dict[int, Decimal]:
    """contract id → debt (> 0) or overpayment (< 0) on `day` by the settlements rule of C9
    (`settlements.debt_from`), the terms, documents and payments of every account read in three
    statements whatever the number of houses."""
    if not contracts:
        return {}
    ids = sorted({contract.id for contract in contracts})
    term_rows: dict[int, list[PaymentTerm]] = {cid: [] for cid in ids}
    for row in db.session.scalars(select(PaymentTerm).where(PaymentTerm.contract_id.in_(ids))
                                  .order_by(PaymentTerm.month_offset, PaymentTerm.day_of_month)):
        term_rows[row.contract_id].append(row)
    terms = {cid: settlements.terms_of(rows) for cid, rows in term_rows.items()}
    docs: dict[int, list] = {cid: [] for cid in ids}
    by_id = {contract.id: contract for contract in contracts}
    for row in db.session.execute(
            select(BillingDocument.contract_id, *settlements._DOC_COLUMNS)
            .where(BillingDocument.contract_id.in_(ids), BillingDocument.doc_date <= day,
                   BillingDocument.doc_type.in_(settlements.PAYABLE_TYPES))
            .order_by(BillingDocument.doc_date, BillingDocument.id)):
        since = by_id[row.contract_id].opening_balance_on
        if since is None or row.doc_date >= since:
            docs[row.contract_id].append(settlements._doc(row, terms[row.contract_id]))
    paid: dict[int, tuple[Decimal, int]] = {}
    for contract_id, total, count in db.session.execute(
            select(Payment.contract_id, settlements.kopecks(Payment.amount), func.count(Payment.id))
            .join(Contract, Payment.contract_id == Contract.id)
            .where(Payment.contract_id.in_(ids), Payment.status == PaymentStatus.PAID.value, Payment.paid_on <= day,
                   or_(Contract.opening_balance_on.is_(None), Payment.paid_on >= Contract.opening_balance_on))
            .group_by(Payment.contract_id)):
        paid[contract_id] = (settlements.rubles(total), int(count or 0))
    result = {}
    for cid in ids:
        total, count = paid.get(cid, (Decimal("0.00"), 0))
        result[cid] = settlements.debt_from(by_id[cid], docs[cid], total, count, day).amount
    return result


def _accessible(user_id: int, contract_ids: list[int]) -> set[int]:
    """The contracts among `contract_ids` the user has a confirmed role on (one statement): a house whose
    role staff took away shows nothing of the account."""
    return set(db.session.scalars(select(ContractAccess.contract_id).where(
        ContractAccess.user_id == user_id, ContractAccess.contract_id.in_(contract_ids),
        ContractAccess.confirmed_at.is_not(None))))


def house_summaries(user, today: date | None = None) -> list[HouseSummary]:
    """The user's houses (name order) with meters, last readings and balance today (seven statements)."""
    houses = houses_of(user)
    if not houses:
        return []
    allowed = _accessible(user.id, [house.contract_id for house in houses])
    shown = [house for house in houses if house.contract_id in allowed]
    meters = meters_of(house.contract_id for house in shown)
    balances = balances_on([house.contract for house in shown], today or clock.today())
    return [HouseSummary(house, meters.get(house.contract_id, []), balances.get(house.contract_id),
                         accessible=house.contract_id in allowed) for house in houses]


def house_of(user, house_id: int) -> House:
    """One of the user's own houses, or `HouseNotFoundError`."""
    house = db.session.scalars(_houses_query(user.id).where(House.id == house_id)).unique().first()
    if house is None:
        raise HouseNotFoundError()
    return house


def house_detail(user, house_id: int, today: date | None = None) -> HouseSummary:
    """One house with its meters, last readings and balance (nothing of the account without a role)."""
    house = house_of(user, house_id)
    if not _accessible(user.id, [house.contract_id]):
        return HouseSummary(house, [], None, accessible=False)
    balance = balances_on([house.contract], today or clock.today()).get(house.contract_id)
    return HouseSummary(house, meters_of([house.contract_id])[house.contract_id], balance)


# --- changing: add, rename, remove a house; rename a meter --------------------------------------

def _clean(value: str | None) -> str:
    return " ".join((value or "").split())


def _check_house_fields(user, name: str, address: str, errors: dict[str, str], house_id: int | None = None) -> None:
    if not name:
        errors["name"] = _("Enter the name of the house, e.g. “Flat” or “Country house”.")
    elif len(name) > NAME_MAX:
        errors["name"] = _("The name is too long: at most %(max)s characters.", max=NAME_MAX)
    else:
        # Compared in Python: SQLite's lower() folds ASCII letters only, and names are mostly Cyrillic.
        names = db.session.scalars(select(House.name).where(House.user_id == user.id,
                                                            House.id != (house_id or 0))).all()
        if name.casefold() in {other.casefold() for other in names}:
            errors["name"] = _("You already have a house named “%(name)s”: choose another name.", name=name)
    if len(address) > ADDRESS_MAX:
        errors["address"] = _("The address is too long: at most %(max)s characters.", max=ADDRESS_MAX)


def find_account(user, account_number: str, meter_serial: str, errors: dict[str, str]) -> Contract | None:
    """The individual's contract with this account number that has this meter, or None with the reason in
    `errors` (unknown account, meter does not match, account already in one of the user's houses)."""
    account_number = "".join(account_number.split())
    meter_serial = "".join(meter_serial.split())
    if not account_number:
        errors["account_number"] = _("Enter the account number from your bill.")
    if not meter_serial:
        errors["meter_serial"] = _("Enter the serial number of the meter (it is on the meter's front panel).")
    if not account_number:
        return None
    contract = db.session.scalars(
        select(Contract).join(Counterparty, Contract.counterparty_id == Counterparty.id)
        .where(Contract.account_number == account_number,
               Counterparty.person_type == PersonType.INDIVIDUAL.value)).first()
    if contract is None:
        errors["account_number"] = _("There is no personal account No. %(number)s: check the number on your bill.",
                                     number=account_number[:20])
        return None
    if db.session.scalar(select(func.count()).select_from(House).where(House.user_id == user.id,
                                                                       House.contract_id == contract.id)):
        errors["account_number"] = _("Personal account No. %(number)s is already in one of your houses.",
                                     number=account_number)
        return None
    if meter_serial:
        serials = db.session.scalars(
            select(Meter.serial).join(MeteringPoint, Meter.metering_point_id == MeteringPoint.id)
            .join(EnergyObject, MeteringPoint.energy_object_id == EnergyObject.id)
            .where(EnergyObject.contract_id == contract.id)).all()
        if meter_serial.lower() not in {"".join(serial.split()).lower() for serial in serials}:
            errors["meter_serial"] = _("Meter No. %(serial)s is not on personal account No. %(number)s: check "
                                       "the serial number on the meter.", serial=meter_serial[:64],
                                       number=account_number)
            return None
    return contract


def _ensure_role(user, contract: Contract) -> ContractAccess:
    """The user's confirmed role on the contract, granting "manager" when there is none."""
    access = db.session.scalars(select(ContractAccess).where(ContractAccess.user_id == user.id,
                                                             ContractAccess.contract_id == contract.id)).first()
    now = clock.now()
    if access is None:
        access = ContractAccess(user_id=user.id, contract_id=contract.id, role=ContractRole.MANAGER.value,
                                granted_at=now, confirmed_at=now)
        db.session.add(access)
    elif access.confirmed_at is None:
        access.confirmed_at = now          # the account number and meter prove it as the e-mail link would
    db.session.flush()
    return access


def add_house(user, *, name: str | None, address: str | None, account_number: str | None,
              meter_serial: str | None) -> House:
    """Add a house with its personal account (account number + a meter serial of that account) [001 §§3–4].

    Raises `HouseholdError` listing every problem; on success the user has a role on the account's contract.
    """
    name, address = _clean(name), _clean(address)
    errors: dict[str, str] = {}
    _check_house_fields(user, name, address, errors)
    contract = find_account(user, account_number or "", meter_serial or "", errors)
    if errors:
        raise HouseholdError(errors)
    access = _ensure_role(user, contract)
    house = House(user_id=user.id, contract_id=contract.id, name=name, address=address or None)
    db.session.add(house)
    try:
        db.session.flush()
    except IntegrityError:     # a concurrent request added the same account or name: report it as such
        db.session.rollback()
        _check_house_fields(user, name, address, errors)
        find_account(user, account_number or "", meter_serial or "", errors)
        raise HouseholdError(errors or {"name": _("The house has not been added: try again.")}) from None
    audit.record("household.house_added", actor=user, subject_type="house", subject_id=house.id,
                 counterparty_id=contract.counterparty_id,
                 detail={"account": contract.account_number, "contract": contract.number, "role": access.role})
    db.session.commit()
    return house


def rename_house(user, house_id: int, *, name: str | None, address: str | None) -> House:
    """Change the name and address of one of the user's houses [001 §8]."""
    house = house_of(user, house_id)
    name, address = _clean(name), _clean(address)
    errors: dict[str, str] = {}
    _check_house_fields(user, name, address, errors, house_id=house.id)
    if errors:
        raise HouseholdError(errors)
    house.name, house.address = name, address or None
    db.session.commit()
    return house


def remove_house(user, house_id: int) -> None:
    """Remove a house; the account leaves the user's cabinet with it: the user's manager role on the
    contract goes unless another house of theirs uses the account (a role granted by staff stays)."""
    house = house_of(user, house_id)
    contract = house.contract
    db.session.delete(house)
    db.session.flush()
    still_used = db.session.scalar(select(func.count()).select_from(House).where(
        House.user_id == user.id, House.contract_id == contract.id))
    removed_role = False
    if not still_used:
        access = db.session.scalars(select(ContractAccess).where(
            ContractAccess.user_id == user.id, ContractAccess.contract_id == contract.id,
            ContractAccess.role == ContractRole.MANAGER.value)).first()
        if access is not None:
            db.session.delete(access)
            removed_role = True
    audit.record("household.house_removed", actor=user, subject_type="house", subject_id=house_id,
                 counterparty_id=contract.counterparty_id,
                 detail={"account": contract.account_number, "role_removed": removed_role})
    db.session.commit()


def rename_meter(user, house_id: int, meter_id: int, label: str | None) -> Meter:
    """Give a meter of the house's account the user's own name (blank restores the model and number)."""
    house = house_of(user, house_id)
    meter = db.session.scalars(
        select(Meter).join(MeteringPoint, Meter.metering_point_id == MeteringPoint.id)
        .join(EnergyObject, MeteringPoint.energy_object_id == EnergyObject.id)
        .where(Meter.id == meter_id, EnergyObject.contract_id == house.contract_id)).first()
    if meter is None:
        raise HouseNotFoundError()
    label = _clean(label)
    if len(label) > LABEL_MAX:
        raise HouseholdError({"label": _("The name is too long: at most %(max)s characters.", max=LABEL_MAX)})
    meter.customer_label = label or None
    db.session.commit()
    return meter


# --- the amount to pay by the current tariff (issue 4 item 9) ----------------------------------

@dataclass(frozen=True)
class ChargeLine:
    register: Register
    consumption: Decimal
    rate: Decimal | None
    amount: Decimal | None               # consumption × rate, rounded to kopecks half up


@dataclass(frozen=True)
class Charge:
    lines: list[ChargeLine]
    tariff_name: str | None

    @property
    def total(self) -> Decimal | None:
        amounts = [line.amount for line in self.lines]
        if not amounts or any(amount is None for amount in amounts):
            return None
        return sum(amounts, Decimal("0.00"))


def rates_on(contract: Contract, day: date) -> dict[str, Tariff]:
    """zone → the contract's tariff row valid on `day` (one statement; empty without a tariff)."""
    if contract.tariff is None:
        return {}
    rows = db.session.scalars(
        select(Tariff).where(Tariff.group_code == contract.tariff.group_code, Tariff.valid_from <= day,
                             or_(Tariff.valid_to.is_(None), Tariff.valid_to >= day))
        .order_by(Tariff.valid_from.desc(), Tariff.id.desc()))
    found: dict[str, Tariff] = {}
    for row in rows:
        found.setdefault(row.zone, row)
    return found


def amount_to_pay(contract: Contract, consumption: Mapping[Register, Decimal], day: date | None = None) -> Charge:
    """Consumption per register × the rate of its zone valid on `day` (the all-day rate when the zone
    has none); each line rounded to kopecks half up, the total is the sum of the lines."""
    rates = rates_on(contract, day or clock.today())
    lines = []
    for register, quantity in consumption.items():
        tariff = rates.get(register.zone) or rates.get("all_day")
        rate = tariff.rate if tariff is not None else None
        quantity = Decimal(quantity)
        lines.append(ChargeLine(register, quantity, rate, money(quantity * rate) if rate is not None else None))
    name = next(iter(rates.values())).name if rates else None
    return Charge(lines, name)


def latest_submission(user, house_id: int) -> tuple[House, date | None, list[tuple[MeterInfo, Register, Reading]]]:
    """The readings of the latest period read on the house's account, for the result of the wizard."""
    house = house_of(user, house_id)
    summary = HouseSummary(house, meters_of([house.contract_id])[house.contract_id], None)
    last = summary.last_reading
    return (house, None, []) if last is None else (house, last[0], last[1])
