"""The portal's section menu, as data.

A section that works is one entry in `MENU`. Later sections add an entry, e.g.

    MenuItem("readings", _l("Readings"), "portal.readings", icon="speedometer2",
             capability=Capability.VIEW_READINGS, contract_scoped=True),

`contract_scoped` entries link to the selected contract (`url_for(endpoint, contract_id=…)`) and
are shown only when the user's role on it has `capability` (SPEC C6); the others are shown to
everyone signed in (they list or choose contracts, so they must work with none). Hiding an entry
is a convenience: every route still checks `crm.access.require` itself.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from flask import request, url_for
from flask_babel import lazy_gettext as _l

from crm.access import Capability, ContractGrant


@dataclass(frozen=True)
class MenuItem:
    key: str
    label: object                     # a lazy string, translated when rendered
    endpoint: str
    icon: str                         # a Bootstrap Icons name
    capability: Capability | None = None
    contract_scoped: bool = False
    enabled: bool = True
    # Shown only while the selected contract's counterparty is of this person type (or when the user has
    # no contract yet): the households section is for individuals (SPEC C17).
    person_type: str | None = None
    # Other endpoints under this section (for the "current page" highlight).
    also_active: tuple[str, ...] = field(default=())
    # A count shown beside the label (e.g. appeals with unread replies); called once per page, 0 hides it.
    badge: Callable[[], int] | None = None

    def visible_for(self, grant: ContractGrant | None) -> bool:
        """Whether to show the entry while `grant` is the selected contract."""
        if not self.enabled:
            return False
        if self.person_type is not None and grant is not None \
                and grant.contract.counterparty.person_type != self.person_type:
            return False
        if grant is None:
            return not self.contract_scoped
        return self.capability is None or grant.can(self.capability)

    def url(self, grant: ContractGrant | None) -> str:
        if self.contract_scoped:
            return url_for(self.endpoint, contract_id=grant.contract.id)
        return url_for(self.endpoint)

    def is_active(self, endpoint: str | None) -> bool:
        return endpoint == self.endpoint or endpoint in self.also_active


MENU: list[MenuItem] = [
    MenuItem("contracts", _l("Contracts"), "portal.contract_list", icon="file-earmark-text",
             capability=Capability.VIEW_CONTRACT,
             also_active=("portal.contract_card", "portal.index", "portal.selector_settings", "portal.remove_contract",
                          "portal.contact_persons", "portal.contact_person_add", "portal.contact_person_edit")),
    MenuItem("settlements", _l("Settlements"), "portal.settlements", icon="wallet2",
             capability=Capability.VIEW_FINANCE, contract_scoped=True, also_active=("portal.reconciliation_act",)),
    MenuItem("documents", _l("Documents"), "portal.documents", icon="folder2-open",
             capability=Capability.VIEW_FINANCE, contract_scoped=True),
    MenuItem("payments", _l("Payments"), "portal.payments", icon="credit-card",
             capability=Capability.VIEW_FINANCE, contract_scoped=True),
    MenuItem("submit_readings", _l("Submit readings"), "portal.readings_entry", icon="pencil-square",
             capability=Capability.SUBMIT_READINGS, contract_scoped=True),
    MenuItem("readings", _l("Readings"), "portal.readings", icon="speedometer2",
             capability=Capability.VIEW_READINGS, contract_scoped=True),
    MenuItem("objects", _l("Objects and meters"), "portal.contract_objects", icon="building",
             capability=Capability.VIEW_READINGS, contract_scoped=True, also_active=("portal.meter_card",)),
    MenuItem("houses", _l("My houses"), "portal.houses", icon="house-door", person_type="individual",
             also_active=("portal.house_add", "portal.house", "portal.house_edit", "portal.house_meter_rename",
                          "portal.house_readings", "portal.house_readings_result", "portal.house_pay",
                          "portal.house_operations")),
    MenuItem("users", _l("Users"), "portal.contract_users", icon="people", capability=Capability.MANAGE_ROLES,
             contract_scoped=True, also_active=("portal.contract_user_edit",)),
    MenuItem("appeals", _l("Appeals"), "portal.appeals", icon="chat-left-text", badge=lambda: _unread_appeals(),
             also_active=("portal.appeal_new", "portal.appeal_form", "portal.appeal_card", "portal.appeal_sent",
                          "portal.appeal_draft_resume")),
    MenuItem("notifications", _l("Notifications"), "portal.notifications", icon="bell",
             badge=lambda: _unread_notifications(), also_active=("portal.news", "portal.news_item")),
    MenuItem("services", _l("Services"), "portal.services", icon="tools",
             also_active=("portal.service_order", "portal.service_order_done", "portal.service_orders_history")),
    MenuItem("help", _l("Help"), "portal.help_faq", icon="question-circle",
             also_active=("portal.help_contacts", "portal.help_page", "portal.help_ask")),
]


@dataclass(frozen=True)
class MenuLink:
    key: str
    label: str
    url: str
    icon: str
    active: bool
    badge: int = 0


def menu_for(grant: ContractGrant | None, items: list[MenuItem] | None = None) -> list[MenuLink]:
    """The entries to show, resolved to links, with the current page marked."""
    endpoint = request.endpoint
    return [MenuLink(item.key, str(item.label), item.url(grant), item.icon, item.is_active(endpoint),
                     item.badge() if item.badge is not None else 0)
            for item in (MENU if items is None else items) if item.visible_for(grant)]


def _unread_appeals() -> int:
    from customer_portal.notifications import layout_state

    return layout_state()["bell"].appeals  # counted in the bell's statement: no extra one


def _unread_notifications() -> int:
    from customer_portal.notifications import layout_state

    return layout_state()["bell"].total  # the bell's own figure: no extra statement
