"""What a customer may choose when filing an appeal: contract, object, topic → section → subsection.

`catalogue_for` lists the choices (active catalogue entries, the user's contracts and the objects in
their scope); `check_choice` refuses anything else with a message per field. The wizard checks the
choice again on every step, so a role lost midway stops the appeal before it is sent.
Read helpers: nothing here commits.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlalchemy import select

from crm.access import ContractGrant
from crm.extensions import db
from crm.models import AppealTopic, Contract, EnergyObject, FormDefinition
from crm.services import ServiceError
from crm.services.appeal_forms import AppealConfigError, current_form


class ChoiceError(ServiceError):
    """The choice is incomplete or not allowed; `errors` maps the field (contract_id, …) to a message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(_("Check the highlighted fields."), status=422)
        self.errors = errors


@dataclass
class Choice:
    topic: AppealTopic
    section: AppealTopic
    subsection: AppealTopic | None
    contract: Contract | None
    energy_object: EnergyObject | None
    form: FormDefinition | None

    def as_dict(self) -> dict:
        """The ids, to carry between steps."""
        return {"contract_id": self.contract.id if self.contract else None,
                "object_id": self.energy_object.id if self.energy_object else None,
                "section_id": self.section.id,
                "subsection_id": self.subsection.id if self.subsection else None}

    @property
    def requires_contract(self) -> bool:
        return _requires_contract(self.section, self.subsection)


@dataclass
class TopicEntry:
    topic: AppealTopic
    sections: list[AppealTopic] = field(default_factory=list)


@dataclass
class Catalogue:
    topics: list[TopicEntry]
    subsections: dict[int, list[AppealTopic]]       # section id → its active subsections
    grants: list[ContractGrant]
    objects: dict[int, list[EnergyObject]]          # contract id → objects in the user's scope


def _requires_contract(section: AppealTopic, subsection: AppealTopic | None) -> bool:
    nodes = [subsection, section, section.parent]
    return any(node is not None and node.requires_contract for node in nodes)


def _active_topics() -> list[AppealTopic]:
    return list(db.session.scalars(select(AppealTopic).where(AppealTopic.active.is_(True))
                                   .order_by(AppealTopic.position, AppealTopic.name)))


def catalogue_for(grants: list[ContractGrant]) -> Catalogue:
    """Active topics with their active sections and subsections, the user's contracts and objects (3 queries)."""
    nodes = _active_topics()
    topics = [TopicEntry(node) for node in nodes if node.level == "topic"]
    by_topic = {entry.topic.id: entry for entry in topics}
    sections = {node.id for node in nodes if node.level == "section" and node.parent_id in by_topic}
    subsections: dict[int, list[AppealTopic]] = {}
    for node in nodes:
        if node.level == "section" and node.id in sections:
            by_topic[node.parent_id].sections.append(node)
        elif node.level == "subsection" and node.parent_id in sections:
            subsections.setdefault(node.parent_id, []).append(node)
    objects: dict[int, list[EnergyObject]] = {}
    by_contract = {grant.contract.id: grant for grant in grants}
    if by_contract:
        rows = db.session.scalars(select(EnergyObject).where(EnergyObject.contract_id.in_(by_contract))
                                  .order_by(EnergyObject.name, EnergyObject.id))
        for obj in rows:
            if by_contract[obj.contract_id].covers_object(obj.id):
                objects.setdefault(obj.contract_id, []).append(obj)
    return Catalogue([entry for entry in topics if entry.sections], subsections, grants, objects)


def check_choice(grants: list[ContractGrant], *, contract_id: int | None = None, object_id: int | None = None,
                 section_id: int | None = None, subsection_id: int | None = None) -> Choice:
    """The validated choice; ChoiceError with every problem at once."""
    errors: dict[str, str] = {}
    section = db.session.get(AppealTopic, section_id) if section_id else None
    if section is None or not section.active or section.level != "section" \
            or section.parent is None or not section.parent.active:
        errors["section_id"] = (_("Choose the section of the appeal.") if section_id is None
                                else _("Choose a section from the list."))
        section = None
    subsection = None
    if section is not None:
        children = [node for node in section.children if node.active and node.level == "subsection"]
        subsection = next((node for node in children if node.id == subsection_id), None)
        if children and subsection is None:
            errors["subsection_id"] = _("Choose the subsection of the appeal.")
        elif not children and subsection_id:
            errors["subsection_id"] = _("This section has no subsections.")
    grant = None
    if contract_id is not None:
        grant = next((g for g in grants if g.contract.id == contract_id), None)
        if grant is None:
            errors["contract_id"] = _("Choose a contract from the list.")
    elif section is not None and _requires_contract(section, subsection):
        errors["contract_id"] = _("Appeals of this section need a contract: choose one.")
    energy_object = None
    if object_id is not None:
        energy_object = db.session.get(EnergyObject, object_id)
        if grant is None and "contract_id" not in errors:
            errors["object_id"] = _("Choose the contract of the object first.")
        elif grant is not None and (energy_object is None or energy_object.contract_id != grant.contract.id
                                    or not grant.covers_object(energy_object.id)):
            errors["object_id"] = _("Choose an object of the selected contract.")
    form = None
    if section is not None:
        try:
            form = current_form(subsection or section)
        except AppealConfigError as exc:
            errors["section_id"] = exc.message
    if errors:
        raise ChoiceError(errors)
    return Choice(section.parent, section, subsection, grant.contract if grant else None, energy_object, form)


def load_choice(grants: list[ContractGrant], ids: dict) -> Choice:
    """`check_choice` from the ids carried between steps (checked again: roles may have changed)."""
    return check_choice(grants, contract_id=ids.get("contract_id"), object_id=ids.get("object_id"),
                        section_id=ids.get("section_id"), subsection_id=ids.get("subsection_id"))
