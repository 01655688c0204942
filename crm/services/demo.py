"""`flask crm seed-demo`: a realistic demo (DESIGN.md, "Conventions") and the demo logins.

Everything is created in one transaction: users go through FAB's `add_user(commit=False)`, the
bulk rows (readings, documents, payments) through SQLAlchemy's executemany inserts, and one
commit at the end; any error rolls the whole demo back. Dates are relative to `crm.clock.today()`:
two years of accepted readings end with the month before last, the previous month's readings
window is open and partly filled from the portal, and the latest documents are unpaid.
"""
from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from flask import current_app
from sqlalchemy import insert, select
from werkzeug.security import generate_password_hash

from crm import clock
from crm.extensions import db
from crm.models import (
    BillingDocument,
    Branch,
    ContactPerson,
    Contract,
    ContractAccess,
    ContractEmail,
    Counterparty,
    Curator,
    EnergyObject,
    IntervalProfile,
    Meter,
    MeteringPoint,
    Payment,
    PaymentTerm,
    Reading,
    ReadingsWindow,
    Register,
    Tariff,
)
from crm.services import demo_data as data
from crm.services import demo_desk, demo_seed003
from crm.services.demo_billing import (
    RegisterPlan,
    add_months,
    build_billing,
    hourly_profile,
    money,
    monthly_energy,
    required_digits,
)

DEMO_LOGINS: list[tuple[str, str, str]] = [
    ("admin", data.ADMIN_PASSWORD, "staff, Admin (back office: /login/)"),
    ("curator", data.CURATOR_PASSWORD, "staff, Curator of the Central branch (back office: /login/)"),
    ("director@demo.example", data.CUSTOMER_PASSWORD, "customer: administrator of two contracts (portal)"),
    ("manager@demo.example", data.CUSTOMER_PASSWORD, "customer: manager on the shared contract"),
    ("engineer@demo.example", data.CUSTOMER_PASSWORD, "customer: power engineer, two objects only"),
    ("accountant@demo.example", data.CUSTOMER_PASSWORD, "customer: accountant on the shared contract"),
    ("other@demo.example", data.CUSTOMER_PASSWORD, "customer: manager of another company's contract"),
    ("household@demo.example", data.CUSTOMER_PASSWORD, "customer: household (flat, day/night meter)"),
]

# Contract roles: login → [(contract key, role, object indexes in scope or None, granted by)].
ACCESS = {
    "director@demo.example": [("shared", "administrator", None, "admin"),
                              ("technostyle_heat", "administrator", None, "admin")],
    "manager@demo.example": [("shared", "manager", None, "director@demo.example")],
    "engineer@demo.example": [("shared", "power_engineer", [0, 1], "director@demo.example")],
    "accountant@demo.example": [("shared", "accountant", None, "director@demo.example")],
    "other@demo.example": [("manufaktura", "manager", None, None)],
    "household@demo.example": [("household", "manager", None, None)],
}
# The open period's readings already sent: contract key → {object index: (login, source)}.
SUBMITTED = {
    "shared": {0: ("engineer@demo.example", "portal"), 2: ("manager@demo.example", "portal")},
    "manufaktura": {0: ("other@demo.example", "file"), 1: ("other@demo.example", "file")},
    "household": {0: ("household@demo.example", "portal")},
}
ZONE_SHARES = {1: [("all_day", 1.0)], 2: [("day", 0.68), ("night", 0.32)],
               3: [("peak", 0.27), ("semi_peak", 0.45), ("night", 0.28)]}
EXPORT_SHARE = 0.03
HISTORY_MONTHS = 24


class DemoError(RuntimeError):
    """The demo cannot be loaded (roles missing, or demo data already there)."""


def seed_demo(only_if_empty: bool = False) -> bool:
    """Load the demo in one transaction; with `only_if_empty`, do nothing (False) if any contract exists."""
    if only_if_empty and db.session.scalar(select(Contract.id).limit(1)) is not None:
        return False
    if demo_loaded():
        raise DemoError("The demo is already loaded (its contract numbers exist).")
    try:
        builder = DemoBuilder()
        builder.build()
        demo_desk.seed_desk(builder)
        demo_seed003.seed(builder)  # seed 003's 2016 operations: its reconciliation act (issue 5 item 10)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return True


def demo_loaded() -> bool:
    """True when the demo's contracts are in the database."""
    numbers = [_contract_number(spec) for spec in data.CONTRACTS]
    return db.session.scalar(select(Contract.id).where(Contract.number.in_(numbers)).limit(1)) is not None


def _contract_number(spec: dict) -> str:
    return f"69{spec['branch']}00{spec['serial'] * 1375 + 40021:08d}"


class DemoBuilder:
    """Builds the demo step by step; the desk module (appeals, news, …) reads what it made."""

    def __init__(self):
        self.now = clock.now()
        self.today = clock.today()
        self.rng = random.Random(2026)
        self.current = self.today.replace(day=1)
        self.open_period = add_months(self.current, -1)
        # Accepted history: the HISTORY_MONTHS months before the open period.
        self.invoiced = [add_months(self.open_period, k) for k in range(-HISTORY_MONTHS, 0)]
        self.periods = self.invoiced + [self.open_period, self.current]
        self.branches: dict[str, Branch] = {}
        self.curators: list[Curator] = []
        self.users: dict = {}
        self.counterparties: dict[str, Counterparty] = {}
        self.contracts: dict[str, Contract] = {}
        self.specs = {spec["key"]: spec for spec in data.CONTRACTS}
        self.objects: dict[str, list[EnergyObject]] = {}
        self.meters: dict[str, list[tuple[int, Meter, list[RegisterPlan]]]] = {}
        self.rates: dict[str, dict[str, list[tuple[date, Decimal]]]] = {}
        self.accesses: list[ContractAccess] = []
        self._hashes: dict[str, str] = {}
        self._serials: set[str] = set()
        self._verification_soon_done = False

    def days_ago(self, days: float, hour: int | None = None) -> datetime:
        moment = self.now - timedelta(days=days)
        return moment.replace(hour=hour, minute=0, second=0, microsecond=0) if hour is not None else moment

    def build(self) -> None:
        self._branches_and_staff()
        self._tariffs()
        for spec in data.CONTRACTS:
            self._contract(spec)
        self._customer_users()
        db.session.flush()
        self._readings()
        self._windows()
        self._billing()
        self._interval_profiles()

    # --- people -------------------------------------------------------------------------------

    def _password_hash(self, password: str) -> str:
        if password not in self._hashes:
            config = current_app.config
            self._hashes[password] = generate_password_hash(
                password, method=config.get("FAB_PASSWORD_HASH_METHOD", "scrypt"),
                salt_length=config.get("FAB_PASSWORD_HASH_SALT_LENGTH", 16))
        return self._hashes[password]

    def _user(self, login: str, role_name: str, password: str):
        sm = current_app.appbuilder.sm
        user = sm.find_user(username=login)
        if user is None:
            role = sm.find_role(role_name)
            if role is None:
                raise DemoError(f"Role {role_name!r} is missing: run `flask crm init` first.")
            info = data.USERS[login]
            user = sm.add_user(username=login, first_name=info["first_name"], last_name=info["last_name"],
                               email=info.get("email", login), role=[role],
                               hashed_password=self._password_hash(password), commit=False)
            if not user:
                raise DemoError(f"Could not create the demo user {login!r}.")
            for key in ("patronymic", "phone", "organisation", "position", "address"):
                if info.get(key):
                    setattr(user, key, info[key])
        self.users[login] = user
        return user

    def _branches_and_staff(self) -> None:
        for spec in data.BRANCHES:
            branch = Branch(**spec)
            self.branches[branch.code] = branch
        self._user("admin", "Admin", data.ADMIN_PASSWORD)
        staff = self._user("curator", "Curator", data.CURATOR_PASSWORD)
        for spec in data.CURATORS:
            spec = dict(spec)
            login = spec.pop("login", None)
            curator = Curator(branch=self.branches[spec.pop("branch")], **spec)
            if login:
                curator.user = staff
            self.curators.append(curator)
        db.session.add_all([*self.branches.values(), *self.curators])

    def _customer_users(self) -> None:
        for login, grants in ACCESS.items():
            user = self._user(login, "Customer", data.CUSTOMER_PASSWORD)
            user.email_confirmed_at = self.days_ago(400, 9)
            user.agreement_accepted_at = user.email_confirmed_at
            if login.startswith("household"):
                user.inn = self.counterparties["household"].inn
            for n, (key, role, scope, granted_by) in enumerate(grants):
                granted_at = self.days_ago(380 - 20 * n, 10)
                access = ContractAccess(user=user, contract=self.contracts[key], role=role,
                                        granted_by=self.users.get(granted_by), granted_at=granted_at,
                                        confirmed_at=granted_at)
                if scope is not None:
                    access.energy_objects = [self.objects[key][i] for i in scope]
                self.accesses.append(access)
        db.session.add_all(self.accesses)

    # --- tariffs, contracts, objects, meters ---------------------------------------------------

    def _tariffs(self) -> None:
        first = self.periods[0]
        year = first.year if first.month >= 7 else first.year - 1
        starts = []
        while date(year, 7, 1) <= self.today:
            starts.append(date(year, 7, 1))
            year += 1
        self.current_tariff: dict[str, Tariff] = {}
        for group, spec in data.TARIFFS.items():
            self.rates[group] = {}
            for zone, base in spec["zones"].items():
                history = []
                for k, valid_from in enumerate(starts):
                    rate = (base * data.TARIFF_INDEXATION ** k).quantize(Decimal("0.00001"))
                    valid_to = starts[k + 1] - timedelta(days=1) if k + 1 < len(starts) else None
                    tariff = Tariff(group_code=group, name=spec["name"], zone=zone, rate=rate, unit=spec["unit"],
                                    valid_from=valid_from, valid_to=valid_to)
                    db.session.add(tariff)
                    history.append((valid_from, rate))
                    if valid_to is None and group not in self.current_tariff:
                        self.current_tariff[group] = tariff
                self.rates[group][zone] = history

    def rate(self, group: str, zone: str, period: date) -> Decimal:
        """The tariff of `zone` in force in `period` (the earliest one before the history starts)."""
        zones = self.rates[group]
        history = zones.get(zone) or zones.get("all_day") or next(iter(zones.values()))
        in_force = [rate for valid_from, rate in history if valid_from <= period]
        return in_force[-1] if in_force else history[0][1]

    def _counterparty(self, key: str) -> Counterparty:
        if key not in self.counterparties:
            spec = dict(next(c for c in data.COUNTERPARTIES if c["key"] == key))
            spec.pop("key")
            self.counterparties[key] = Counterparty(external_id=f"demo-cp-{spec['partner_code']}", **spec)
        return self.counterparties[key]

    def _contract(self, spec: dict) -> None:
        key = spec["key"]
        signed = date(*spec["signed_on"])
        branch = self.branches[spec["branch"]]
        volume = sum(o.get("kwh", 0) or o.get("gcal", 0) for o in spec["objects"]) * 12
        contract = Contract(
            number=_contract_number(spec), account_number=f"69{spec['branch']}{spec['serial'] * 7919 + 1000000:08d}",
            counterparty=self._counterparty(spec["counterparty"]), branch=branch, kind=spec["kind"],
            status="active", signed_on=signed, starts_on=signed + timedelta(days=1),
            ends_on=date(self.today.year, 12, 31) if key == "logistic" else None,
            price_category=spec["price_category"], contract_volume=Decimal(volume), opening_balance=Decimal("0"),
            opening_balance_on=self.periods[0], tariff=self.current_tariff[spec["tariff"]],
            external_id=f"demo-contract-{spec['serial']}")
        contract.curators = [self.curators[i] for i in spec["curators"]]
        contract.emails = [ContractEmail(email=e) for e in spec["emails"]]
        contract.contact_persons = [ContactPerson(full_name=n, position=p, phone=ph,
                                                  email=spec["emails"][0]) for n, p, ph in spec["contacts"]]
        contract.payment_terms = [PaymentTerm(kind=k, day_of_month=d, month_offset=o, percent=p)
                                  for k, d, o, p in self.terms(spec)]
        db.session.add(contract)
        self.contracts[key] = contract
        self.objects[key] = []
        self.meters[key] = []
        submitted = SUBMITTED.get(key, {})
        for index, ospec in enumerate(spec["objects"]):
            obj = EnergyObject(contract=contract, code=f"{spec['branch']}{spec['serial']:02d}{index + 1:03d}",
                               name=ospec["name"], address=ospec["address"],
                               status="received" if index in submitted else "waiting",
                               external_id=f"demo-eo-{spec['serial']}-{index + 1}")
            self.objects[key].append(obj)
            for n in range(ospec.get("inputs", 1)):
                meter, plans = self._meter(spec, ospec, n, index in submitted)
                meter.metering_point.energy_object = obj
                self.meters[key].append((index, meter, plans))
            db.session.add(obj)

    @staticmethod
    def terms(spec: dict) -> list[tuple[str, int, int, Decimal | None]]:
        if spec.get("household"):
            return [("final", 10, 1, None)]
        if spec["kind"] == "heat":   # seed 002: 35 % by the 18th, 50 % by the 27th, the rest by the 10th
            return [("advance", 18, 0, Decimal("35")), ("advance", 27, 0, Decimal("50")), ("final", 10, 1, None)]
        return [("advance", 10, 0, Decimal("30")), ("advance", 25, 0, Decimal("40")), ("final", 18, 1, None)]

    def _serial(self) -> str:
        while True:
            serial = str(self.rng.randint(10_000_000, 99_999_999))
            if serial not in self._serials:
                self._serials.add(serial)
                return serial

    def _meter(self, spec: dict, ospec: dict, input_no: int, submitted: bool) -> tuple[Meter, list[RegisterPlan]]:
        rng = self.rng
        heat = spec["kind"] == "heat"
        inputs = ospec.get("inputs", 1)
        base = (ospec.get("gcal") if heat else ospec["kwh"]) / inputs
        category = spec.get("price_category")
        interval = category in ("III", "IV", "V", "VI")
        if heat:
            model, digits, fraction = rng.choice(data.HEAT_METERS)
            ratio, losses, voltage, zones = Decimal(1), Decimal(0), None, 1
        elif spec.get("household"):
            model, digits, fraction = data.ELECTRICITY_METERS["household"][0]
            ratio, losses, voltage, zones = Decimal(1), Decimal(0), "НН", 2
        else:
            model, digits, fraction = rng.choice(data.ELECTRICITY_METERS["interval" if interval else "commercial"])
            zones = ospec.get("zones", 1)
            voltage = "СН2" if interval else "НН"
            if base >= 15000:
                ratio = Decimal(rng.choice((40, 60, 80, 120)))
            elif base >= 4000:
                ratio = Decimal(rng.choice((20, 30)))
            else:
                ratio = Decimal(1)
            losses = Decimal(0) if ratio == 1 else Decimal(rng.choice(("0.800", "1.250", "1.900", "2.400")))
        tp = rng.randint(100, 999)
        point_name = (f"Узел учёта тепловой энергии № {input_no + 1}" if heat else
                      f"Ввод № {input_no + 1} (ТП-{tp}, {'РУ-10 кВ' if voltage == 'СН2' else 'РУ-0,4 кВ'})")
        point = MeteringPoint(name=point_name, voltage_level=voltage, losses_percent=losses,
                              transformation_ratio=ratio)
        verified = self.today - timedelta(days=rng.randint(200, 1400 if heat else 2500))
        next_verification = verified + timedelta(days=365 * (4 if heat else 12))
        if spec["key"] == "entrepreneur" and not self._verification_soon_done:
            next_verification = self.today + timedelta(days=45)   # a verification coming up soon
            self._verification_soon_done = True
        meter = Meter(metering_point=point, serial=self._serial(), model=model, digits_integer=digits,
                      digits_fraction=fraction, verification_date=verified,
                      next_verification_date=next_verification, status="received" if submitted else "waiting",
                      interval_metering=interval)
        shares = list(ZONE_SHARES[zones])
        directions = [("A+", zone, share) for zone, share in shares]
        if ospec.get("export") and input_no == 0:
            directions.append(("A-", "all_day", EXPORT_SHARE))
        multiplier = float(ratio * (1 + losses / 100))
        months = len(self.periods)
        total_raw = base * 1.25 * 1.08 * months / multiplier   # the most any register could run
        digits = min(8, max(digits, required_digits(0, total_raw * 1.6)))
        meter.digits_integer = digits
        plans = []
        for position, (direction, zone, share) in enumerate(directions):
            # The counter has run for 1–9 years before the demo starts (never near its rollover).
            room = 10 ** digits - total_raw * share * 1.1
            years_run = total_raw * share / months * 12 * rng.uniform(1, 9)
            start = Decimal(str(min(years_run, room * 0.6))).quantize(Decimal(1).scaleb(-fraction))
            register = Register(zone=zone, direction=direction, position=position)
            meter.registers.append(register)
            plans.append(RegisterPlan(zone=zone, direction=direction, share=share, ratio=ratio, losses=losses,
                                      fraction_digits=fraction, start=start, register=register))
        periods = self.invoiced + ([self.open_period] if submitted else [])
        energies = monthly_energy(rng, base, spec["kind"], periods, bool(spec.get("household")))
        for plan in plans:
            plan.extend(periods, energies)
        return meter, plans

    # --- readings, windows, billing -----------------------------------------------------------

    def _readings(self) -> None:
        rows = []
        for key, meters in self.meters.items():
            submitted = SUBMITTED.get(key, {})
            for index, _meter, plans in meters:
                for plan in plans:
                    for period, previous, value, consumption in plan.rows:
                        row = dict(register_id=plan.register.id, period=period, value=value,
                                   previous_value=previous, consumption=consumption, rollover=False)
                        if period == self.open_period:
                            login, source = submitted[index]
                            at = self.days_ago(self.rng.uniform(1, 6))
                            row.update(source=source, status="submitted", submitted_by_id=self.users[login].id,
                                       submitted_at=at)
                        else:
                            at = datetime.combine(add_months(period, 1).replace(day=20), time(9), UTC)
                            row.update(source="billing", status="accepted", submitted_at=at,
                                       reviewed_at=at + timedelta(hours=26),
                                       external_id=f"demo-rd-{plan.register.id}-{period:%Y%m}")
                        rows.append(row)
        db.session.execute(insert(Reading), rows)

    def _windows(self) -> None:
        for period in (self.open_period, self.current):
            db.session.add(ReadingsWindow(period=period, opens_on=period,
                                          closes_on=add_months(period, 1).replace(day=21),
                                          note="Приём показаний с 1-го числа расчётного месяца по 21-е число "
                                               "следующего месяца"))

    def amounts(self, key: str) -> dict[date, Decimal]:
        """The charge of every invoiced month: Σ consumption × rate of the zone, with VAT (20 %)."""
        spec = self.specs[key]
        totals: dict[date, Decimal] = {period: Decimal(0) for period in self.invoiced}
        for _index, _meter, plans in self.meters[key]:
            for plan in plans:
                if plan.direction != "A+":
                    continue
                for period, _previous, _value, consumption in plan.rows:
                    if period in totals:
                        totals[period] += consumption * self.rate(spec["tariff"], plan.zone, period)
        vat = Decimal(1) if spec.get("household") else Decimal("1.2")
        return {period: money(total * vat) for period, total in totals.items()}

    def _billing(self) -> None:
        doc_rows, pay_rows = [], []
        self.billing = {}
        for key, contract in self.contracts.items():
            spec = self.specs[key]
            billing = build_billing(self.rng, spec=spec, terms=self.terms(spec), amounts=self.amounts(key),
                                    periods=self.periods, today=self.today, contract_number=contract.number,
                                    signed_on=contract.signed_on, account=contract.account_number)
            self.billing[key] = billing
            first = len(doc_rows)
            for doc in billing.docs:
                doc_rows.append(dict(contract_id=contract.id, doc_type=doc.doc_type, number=doc.number,
                                     doc_date=doc.doc_date, period=doc.period, sale_kind=doc.sale_kind,
                                     amount=doc.amount, amount_due=doc.amount_due, due_date=doc.due_date,
                                     external_id=f"demo-doc-{contract.id}-{len(doc_rows) - first + 1}"))
            payer = contract.counterparty
            order_no = self.rng.randint(120, 900)
            for pay in sorted(billing.payments, key=lambda p: p.paid_on):
                order_no += self.rng.randint(1, 9)
                pay_rows.append(dict(contract_id=contract.id, doc_index=first + pay.doc_index,
                                     bank=payer.bank_name or "ПАО Сбербанк", number=str(order_no),
                                     paid_on=pay.paid_on, amount=pay.amount, status="paid", purpose=pay.purpose,
                                     channel="bank", external_id=f"demo-pay-{contract.id}-{order_no}"))
        ids = db.session.scalars(insert(BillingDocument).returning(BillingDocument.id, sort_by_parameter_order=True),
                                 doc_rows).all()
        for row in pay_rows:
            row["document_id"] = ids[row.pop("doc_index")]
        other = self.contracts["manufaktura"]
        pay_rows.append(dict(contract_id=other.id, document_id=None, bank=other.counterparty.bank_name,
                             number="1187", paid_on=self.today - timedelta(days=3), amount=Decimal("150000.00"),
                             status="paid", channel="bank", external_id="demo-pay-prepayment-1",
                             purpose=f"Предоплата за электроэнергию по договору № {other.number}. "
                                     "Сумма 150000-00 в т.ч. НДС (20%) 25000-00"))
        db.session.execute(insert(Payment), pay_rows)

    def _interval_profiles(self) -> None:
        """Hourly profiles (primary acts) of the shared contract: accepted last month, pending this one."""
        engineer = self.users["engineer@demo.example"]
        wanted = [(0, self.invoiced[-1], "accepted"), (2, self.invoiced[-1], "accepted"),
                  (0, self.open_period, "pending")]
        profiles = []
        for object_index, month, status in wanted:
            index, meter, plans = next(m for m in self.meters["shared"] if m[0] == object_index)
            consumption = next(row[3] for row in plans[0].rows if row[0] == month)
            values, total = hourly_profile(self.rng, month, consumption * Decimal(str(self.rng.uniform(0.985, 0.998))))
            uploaded = (datetime.combine(add_months(month, 1).replace(day=5), time(8), UTC) if status == "accepted"
                        else self.days_ago(2, 8))
            profiles.append(IntervalProfile(
                meter_id=meter.id, month=month, hourly_values=values, total=total,
                act_number=f"ПА-{month:%y%m}-{meter.serial[-5:]}", act_status=status, uploaded_by_id=engineer.id,
                uploaded_at=uploaded, reviewed_at=uploaded + timedelta(days=2) if status == "accepted" else None))
        db.session.add_all(profiles)
