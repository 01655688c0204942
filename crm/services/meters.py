"""Objects and meters of a contract (SPEC C7, seed 004 §5.1, seed 001 §7): read helpers, never commit.

Everything goes through the caller's `ContractGrant`: objects outside its object scope do not exist for
the user (a meter card of such a meter answers "not found", exactly like an object id in a path).
Statements are constant: `contract_objects` issues five (objects, the meters' search columns, then for
the page's objects only: metering points, meters, registers),
`meter_card` three (the meter with its point and object, its registers, the last accepted readings).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import and_, func, select
from sqlalchemy.orm import selectinload

from crm import clock
from crm.access import ContractGrant
from crm.extensions import db
from crm.models import EnergyObject, Meter, MeteringPoint, Reading, ReadingStatus, Register


@dataclass
class MeterRow:
    meter: Meter
    metering_point: MeteringPoint


@dataclass
class ObjectRow:
    energy_object: EnergyObject
    meters: list[MeterRow] = field(default_factory=list)

    @property
    def point_count(self) -> int:
        return len({row.metering_point.id for row in self.meters})


# Objects per page of the objects page: a contract may have hundreds of objects and meters (900 meters
# at scale 1 rendered a 1.5 MB page in ≈ 0.4 s of Python).
OBJECTS_PER_PAGE = 20


@dataclass
class ObjectsPage:
    objects: list[ObjectRow]      # this page's objects
    total_objects: int            # in the scope, before the search
    q: str | None
    meter_q: str | None
    scoped: bool
    object_count: int = 0         # matching the search, on every page
    meter_count: int = 0          # their meters (matching the meter search), on every page
    page: int = 1
    pages: int = 1
    per_page: int = OBJECTS_PER_PAGE

    @property
    def first_index(self) -> int:
        """The position of this page's first object among all matching ones (1-based)."""
        return (self.page - 1) * self.per_page + 1


def _hit(needle: str, *texts: str | None) -> bool:
    return any(text and needle in text.casefold() for text in texts)


def _page_number(value) -> int:
    text = str(value or "").strip()
    return int(text) if text.isdigit() and 0 < len(text) < 7 else 1


def contract_objects(grant: ContractGrant, q: str | None = None, meter_q: str | None = None,
                     page: int | str | None = 1, per_page: int = OBJECTS_PER_PAGE) -> ObjectsPage:
    """The contract's objects within the scope (search `q` in code, name, address), each with its metering
    points and meters (search `meter_q` in serial, model, the customer's label), `per_page` objects on page
    `page` (a page past the last shows the last). Five statements."""
    q = (q or "").strip()[:100] or None
    meter_q = (meter_q or "").strip()[:100] or None
    query = (select(EnergyObject).where(EnergyObject.contract_id == grant.contract.id)
             .order_by(EnergyObject.code, EnergyObject.id))
    if grant.object_ids is not None:
        query = query.where(EnergyObject.id.in_(sorted(grant.object_ids)))
    in_scope = list(db.session.scalars(query))
    needle = q.casefold() if q else None
    shown = [obj for obj in in_scope if needle is None or _hit(needle, obj.code, obj.name, obj.address)]
    result = ObjectsPage(objects=[], total_objects=len(in_scope), q=q, meter_q=meter_q,
                         scoped=grant.object_ids is not None, per_page=per_page)
    if not shown:
        return result
    # The meters' search columns only (no ORM rows): which objects match, and the counts for every page.
    meter_needle = meter_q.casefold() if meter_q else None
    matching: dict[int, set[int]] = {}
    for object_id, meter_id, serial, model, label in db.session.execute(
            select(MeteringPoint.energy_object_id, Meter.id, Meter.serial, Meter.model, Meter.customer_label)
            .join(Meter, Meter.metering_point_id == MeteringPoint.id)
            .where(MeteringPoint.energy_object_id.in_([obj.id for obj in shown]))):
        if meter_needle is None or _hit(meter_needle, serial, model, label):
            matching.setdefault(object_id, set()).add(meter_id)
    listed = [obj for obj in shown if meter_needle is None or obj.id in matching]
    if not listed:
        return result
    result.object_count = len(listed)
    result.meter_count = sum(len(matching.get(obj.id, ())) for obj in listed)
    result.pages = -(-len(listed) // per_page)
    result.page = min(_page_number(page), result.pages)
    on_page = listed[(result.page - 1) * per_page:result.page * per_page]
    points = db.session.scalars(
        select(MeteringPoint).where(MeteringPoint.energy_object_id.in_([obj.id for obj in on_page]))
        .order_by(MeteringPoint.name, MeteringPoint.id)
        .options(selectinload(MeteringPoint.meters).selectinload(Meter.registers))
    ).all()
    rows: dict[int, list[MeterRow]] = {}
    for point in points:
        for meter in point.meters:
            if meter.id in matching.get(point.energy_object_id, ()):
                rows.setdefault(point.energy_object_id, []).append(MeterRow(meter, point))
    result.objects = [ObjectRow(obj, rows.get(obj.id, [])) for obj in on_page]
    return result


@dataclass
class RegisterCard:
    register: Register
    last_accepted: Reading | None


@dataclass
class MeterCard:
    meter: Meter
    metering_point: MeteringPoint
    energy_object: EnergyObject
    registers: list[RegisterCard]

    @property
    def verification_overdue(self) -> bool:
        """The next verification date has passed."""
        return self.meter.next_verification_date is not None and self.meter.next_verification_date < clock.today()


def _last_accepted(register_ids: list[int]) -> dict[int, Reading]:
    if not register_ids:
        return {}
    latest = (select(Reading.register_id, func.max(Reading.period).label("period"))
              .where(Reading.register_id.in_(register_ids), Reading.status == ReadingStatus.ACCEPTED.value)
              .group_by(Reading.register_id).subquery())
    found: dict[int, Reading] = {}
    for reading in db.session.scalars(
            select(Reading).join(latest, and_(Reading.register_id == latest.c.register_id,
                                              Reading.period == latest.c.period))
            .where(Reading.status == ReadingStatus.ACCEPTED.value)
            .order_by(Reading.submitted_at.desc(), Reading.id.desc())):
        found.setdefault(reading.register_id, reading)
    return found


def meter_card(grant: ContractGrant, meter_id: int) -> MeterCard | None:
    """The meter with its registers and each register's last accepted reading; None when the meter is not
    the contract's or its object is outside the grant's scope (the caller answers 404). Three statements."""
    row = db.session.execute(
        select(Meter, MeteringPoint, EnergyObject)
        .join(MeteringPoint, Meter.metering_point_id == MeteringPoint.id)
        .join(EnergyObject, MeteringPoint.energy_object_id == EnergyObject.id)
        .where(Meter.id == meter_id, EnergyObject.contract_id == grant.contract.id)
        .options(selectinload(Meter.registers))
    ).first()
    if row is None or not grant.covers_object(row[2].id):
        return None
    meter, point, energy_object = row
    registers = list(meter.registers)
    accepted = _last_accepted([register.id for register in registers])
    return MeterCard(meter, point, energy_object,
                     [RegisterCard(register, accepted.get(register.id)) for register in registers])

