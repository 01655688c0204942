"""Back-office views (Flask-AppBuilder); register_views() holds every add_view.

Menu names (the second argument) are also FAB permission names: keep them stable. Labels are
translated; categories read as a product menu: Клиенты, Учёт, Биллинг, Справочники, Операции.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l


def register_views(appbuilder) -> None:
    """Register every back-office view and API on `appbuilder`."""
    from crm.views.access_admin import register_access_views
    from crm.views.billing import BillingDocumentView, PaymentView, TariffView
    from crm.views.customer360 import Customer360View
    from crm.views.customers import ContractAccessView, ContractView, CounterpartyView, PaymentTermView
    from crm.views.metering import EnergyObjectView, MeteringPointView, MeterView, ReadingsWindowView, RegisterView
    from crm.views.operations import AuditLogView, EmailOutboxView
    from crm.views.signup_admin import register_signup_views
    from crm.views.staff import BranchView, CuratorView, StaffUserView, register_account_views

    def add(view, name, label, icon, category, category_label, category_icon):
        appbuilder.add_view(view, name, label=label, icon=icon, category=category, category_label=category_label,
                            category_icon=category_icon)

    customers = ("Customers", _l("Customers"), "fa-users")
    add(CounterpartyView, "Counterparties", _l("Counterparties"), "fa-building", *customers)
    add(ContractView, "Contracts", _l("Contracts"), "fa-file-text-o", *customers)
    add(ContractAccessView, "Contract access", _l("Access to contracts"), "fa-key", *customers)

    metering = ("Metering", _l("Metering"), "fa-tachometer")
    add(EnergyObjectView, "Energy objects", _l("Energy objects"), "fa-industry", *metering)
    add(MeteringPointView, "Metering points", _l("Metering points"), "fa-map-marker", *metering)
    add(MeterView, "Meters", _l("Meters"), "fa-tachometer", *metering)
    add(ReadingsWindowView, "Readings windows", _l("Readings windows"), "fa-calendar", *metering)

    billing = ("Billing", _l("Billing"), "fa-rub")
    add(BillingDocumentView, "Billing documents", _l("Billing documents"), "fa-file-pdf-o", *billing)
    add(PaymentView, "Payments", _l("Payments"), "fa-credit-card", *billing)
    add(TariffView, "Tariffs", _l("Tariffs"), "fa-percent", *billing)
    from crm.views.billing_import import BillingImportView
    add(BillingImportView, "Billing import", _l("Import from billing"), "fa-upload", *billing)

    directories = ("Directories", _l("Directories"), "fa-book")
    add(BranchView, "Branches", _l("Branches"), "fa-sitemap", *directories)
    add(CuratorView, "Curators", _l("Curators"), "fa-user-circle", *directories)

    operations = ("Operations", _l("Operations"), "fa-cogs")
    add(EmailOutboxView, "E-mail outbox", _l("E-mail outbox"), "fa-envelope", *operations)
    add(AuditLogView, "Audit log", _l("Audit log"), "fa-history", *operations)

    add(StaffUserView, "Staff", _l("Staff"), "fa-id-badge", "Security", _l("Security"), "fa-cogs")

    from crm.views.api_tokens import ApiTokenView
    from crm.views.readings_desk import ReadingsExchangeView, ReadingsReviewView

    readings = ("Readings", _l("Readings"), "fa-check-square-o")
    add(ReadingsReviewView, "Readings review", _l("Readings review"), "fa-check-square-o", *readings)
    add(ReadingsExchangeView, "Readings for billing", _l("Readings for billing"), "fa-exchange", *readings)
    add(ApiTokenView, "API tokens", _l("API tokens"), "fa-plug", "Security", _l("Security"), "fa-cogs")

    # Shown inside other views only (related lists), and the customer-360 page.
    for view in (PaymentTermView, RegisterView, Customer360View):
        appbuilder.add_view_no_menu(view)

    from crm.views.appeal_reports import register_appeal_report_views
    from crm.views.appeals_config import register_appeal_config_views
    from crm.views.appeals_desk import register_appeals_desk_views
    from crm.views.content_admin import register_content_views
    from crm.views.notifications_admin import register_notification_views
    from crm.views.templates_admin import register_template_views

    # Each area registers its own views (menu categories: Appeals, Settings, Content, Operations).
    register_appeals_desk_views(appbuilder)
    register_appeal_config_views(appbuilder)
    register_appeal_report_views(appbuilder)
    register_notification_views(appbuilder)
    register_content_views(appbuilder)
    register_template_views(appbuilder)
    register_access_views(appbuilder)
    register_signup_views(appbuilder)
    register_account_views(appbuilder)
    from crm.api import register_api
    register_api(appbuilder)
    _security_menu_last(appbuilder)


def _security_menu_last(appbuilder) -> None:
    """FAB adds its Security menu first; staff expect the business menus before it."""
    items = appbuilder.menu.get_list()
    security = [item for item in items if item.name == "Security"]
    items[:] = [item for item in items if item.name != "Security"] + security
