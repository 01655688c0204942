"""Building blocks shared by the back-office views: base classes, choice fields, formatters, labels.

Views subclass `CrmModelView` (or `ReadOnlyModelView`) and declare who may use them with
`staff_access` (see crm/services/roles.py). Staff edits made through a view are written to the
audit log by a service call in FAB's post-commit hooks.
"""
from __future__ import annotations

import json

from flask import abort, flash, g, redirect, request, url_for
from flask_appbuilder import ModelView
from flask_appbuilder._compat import as_unicode
from flask_appbuilder.baseviews import expose
from flask_appbuilder.const import FLAMSG_ERR_SEC_ACCESS_DENIED
from flask_appbuilder.fieldwidgets import BS3TextFieldWidget, Select2Widget
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy import false, select
from sqlalchemy.orm import selectinload
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Optional, ValidationError

from crm.extensions import db
from crm.formatting import format_day, format_money, format_period, format_timestamp
from crm.services import backoffice
from crm.validators import is_valid_contract_number, is_valid_inn
from crm.views.choices import label_of
from crm.views.labels import COLUMN_LABELS


class ChoiceField(SelectField):
    """A select box of valid values; an optional one stores NULL, never an empty string."""

    def __init__(self, label, choices, optional: bool = False, **kwargs):
        self.optional = optional
        choices = [SelectChoice(value, label) for value, label in choices]
        if optional:
            choices = [SelectChoice("", "—"), *choices]
        validators = [Optional()] if optional else [DataRequired()]
        super().__init__(label, choices=choices, validators=validators, widget=Select2Widget(), **kwargs)

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        if self.optional and self.data == "":
            self.data = None

    def pre_validate(self, form):
        if self.optional and self.data is None:
            return
        super().pre_validate(form)


def choice_field(column: str, choices, optional: bool = False) -> ChoiceField:
    """A ChoiceField labelled like the column."""
    return ChoiceField(COLUMN_LABELS.get(column, column), choices, optional=optional)


def choice_filter_field(column: str, choices) -> SelectField:
    """A select box for the search form, so filters offer the valid values only."""
    return SelectField(COLUMN_LABELS.get(column, column),
                       choices=[SelectChoice(value, label) for value, label in choices], widget=Select2Widget())


def choice_formatter(choices):
    """Show a stored value as its human label."""
    return lambda value: label_of(choices, value)


def money(value) -> str:
    return format_money(value)


def day(value) -> str:
    return format_day(value)


def timestamp(value) -> str:
    return format_timestamp(value)


def period(value) -> str:
    return format_period(value)


def _dash_for_none(formatter):
    def show(value):
        if value is None:
            return "—"
        return formatter(value) if formatter else value

    return show


def yes_no(value) -> str:
    return _l("Yes") if value else _l("No")


def pretty_json(value) -> str:
    if not value:
        return ""
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True, default=str)


def counterparty_link(counterparty_id) -> Markup | str:
    """A link to the customer-360 page of a counterparty id."""
    if not counterparty_id:
        return ""
    href = url_for("Customer360View.show", counterparty_id=int(counterparty_id))
    return Markup('<a href="{}">{} № {}</a>').format(href, escape(_l("Customer card")), int(counterparty_id))


class EagerSQLAInterface(SQLAInterface):
    """FAB's model interface that loads the relations a list shows with one query per relation.

    FAB renders a relation column (`contract`, `user`) by lazy-loading it row by row; on a page of
    25 rows that is up to 25 statements per column. Here each such column costs one SELECT … IN.
    FAB's list passes no `select_columns`, so the view names its list's relations in
    `eager_relations` (see `CrmModelView.__init__`).
    """

    eager_relations: tuple[str, ...] = ()

    def apply_all(self, query, filters=None, order_column="", order_direction="", page=None, page_size=None,
                  select_columns=None, outer_default_load=False):
        query = super().apply_all(query, filters, order_column, order_direction, page, page_size,
                                  select_columns, outer_default_load)
        for column in select_columns or self.eager_relations:
            if "." not in column and self.is_relation(column):
                query = query.options(selectinload(getattr(self.obj, column)))
        return query


def _like_escaped(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class RelatedColumnFilter(BaseFilter):
    """Filter a many-to-one relation by a column of the related row, typed as text.

    FAB's own filter on a relation renders a <select> of every related row in the search form
    (10 000 contracts or counterparties at scale 1: ≈ 0.7 s of Python and 700 KB per list page).
    """

    related_column = ""
    operation = "eq"

    def apply(self, query, value):
        value = (value or "").strip()
        if not value:
            return query
        relation = getattr(self.model, self.column_name)
        target = getattr(relation.property.mapper.class_, self.related_column)
        if self.related_column == "id":
            if not (value.isdigit() and len(value) < 10):
                return query.filter(false())
            value = int(value)
        if self.operation == "sw":
            condition = target.ilike(_like_escaped(value) + "%", escape="\\")
        elif self.operation == "ct":
            condition = target.ilike("%" + _like_escaped(value) + "%", escape="\\")
        else:
            condition = target == value
        return query.filter(relation.has(condition))


def related_filter(related_column: str, operation: str, name) -> type[RelatedColumnFilter]:
    """A filter class for `CrmModelView.related_search`: operation "eq", "sw" (starts with) or
    "ct" (contains) on `related_column`, shown as `name` (e.g. _l("INN equal to"))."""
    if operation not in ("eq", "sw", "ct"):
        raise ValueError(f"unknown operation {operation!r}")
    return type(f"Related_{related_column}_{operation}", (RelatedColumnFilter,), {
        "related_column": related_column, "operation": operation,
        "arg_name": f"rel_{related_column}_{operation}", "name": name})


class RelatedKeyField(StringField):
    """A many-to-one form field typed as the related row's unique key (a contract's number) instead of
    FAB's <select> of every related row (10 000 contracts at scale 1: ≈ 0.8 s and 470 KB per form)."""

    def __init__(self, label, model, key: str, **kwargs):
        kwargs.setdefault("validators", [DataRequired()])
        kwargs.setdefault("widget", BS3TextFieldWidget())
        super().__init__(label, **kwargs)
        self.model, self.key, self.typed = model, key, ""

    def _value(self):
        if self.data is not None and not isinstance(self.data, str):
            return str(getattr(self.data, self.key))
        return self.typed

    def process_formdata(self, valuelist):
        self.typed = (valuelist[0] if valuelist else "").strip()[:100]
        self.data, self.ambiguous = None, False
        if self.typed:
            found = self.lookup(self.typed)
            self.ambiguous = len(found) > 1
            self.data = found[0] if len(found) == 1 else None

    def lookup(self, typed: str) -> list:
        """The rows the typed text names (at most two: more than one is ambiguous)."""
        value: str | int = typed
        if self.key == "id":
            if not (typed.isdigit() and len(typed) < 10):
                return []
            value = int(typed)
        return list(db.session.scalars(
            select(self.model).where(getattr(self.model, self.key) == value).limit(2)))

    def pre_validate(self, form):
        if self.typed and self.ambiguous:
            raise ValidationError(self.ambiguous_message())
        if self.typed and self.data is None:
            raise ValidationError(gettext("Nothing found for %(value)s.", value=self.typed))

    def ambiguous_message(self) -> str:
        return gettext("Several rows match %(value)s.", value=self.typed)


class CounterpartyInnField(RelatedKeyField):
    """The counterparty typed as its INN, or "INN/KPP" where several counterparties share the INN."""

    def __init__(self, label, model, **kwargs):
        super().__init__(label, model, "inn", **kwargs)

    def _value(self):
        if self.data is not None and not isinstance(self.data, str):
            return f"{self.data.inn}/{self.data.kpp}" if self.data.kpp else self.data.inn
        return self.typed

    def lookup(self, typed: str) -> list:
        inn, _slash, kpp = typed.partition("/")
        query = select(self.model).where(self.model.inn == inn.strip())
        if kpp.strip():
            query = query.where(self.model.kpp == kpp.strip())
        return list(db.session.scalars(query.limit(2)))

    def ambiguous_message(self) -> str:
        return gettext("Several counterparties have INN %(inn)s: type INN/KPP.", inn=self.typed)


def contract_number_search() -> dict:
    """`related_search` of a view with a `contract` relation: the contract's number typed as text."""
    return {"contract": [related_filter("number", "eq", _l("Contract number equal to")),
                         related_filter("number", "sw", _l("Contract number starts with"))]}


class OptionalChoices(tuple):
    """Choices of a column that may stay empty (see `CrmModelView.choice_columns`)."""


def optional(choices) -> OptionalChoices:
    return OptionalChoices(choices)


class CrmModelView(ModelView):
    """Base of every back-office model view: Russian labels, audit of staff edits, safe actions.

    `choice_columns = {"status": ch.CONTRACT_STATUSES, "price_category": optional(...)}` declares
    enum-like string columns once: lists and show pages print the label, add/edit forms offer the
    valid values only, and the search form filters by them.
    """

    staff_access: dict[str, str] = {}
    choice_columns: dict[str, tuple] = {}
    # {"contract": [related_filter("number", "eq", _l("Number")), ...]}: search a relation over a big
    # table by typed text on the related row's columns instead of FAB's select of every related row.
    related_search: dict[str, list[type[RelatedColumnFilter]]] = {}
    page_size = 25

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("related_search"):
            search_fields = dict(cls.search_form_extra_fields or {})
            for column in cls.related_search:
                search_fields[column] = StringField(COLUMN_LABELS.get(column, column),
                                                    widget=BS3TextFieldWidget())
            cls.search_form_extra_fields = search_fields
        if not cls.__dict__.get("choice_columns"):
            return
        formatters = dict(cls.formatters_columns or {})
        add_fields, edit_fields = dict(cls.add_form_extra_fields or {}), dict(cls.edit_form_extra_fields or {})
        search_fields = dict(cls.search_form_extra_fields or {})
        for column, choices in cls.choice_columns.items():
            formatters.setdefault(column, choice_formatter(choices))
            search_fields.setdefault(column, choice_filter_field(column, choices))
            # A form field only where the form shows the column (an extra field is always validated).
            for fields, shown in ((add_fields, cls.add_columns), (edit_fields, cls.edit_columns)):
                if not shown or column in shown:
                    fields.setdefault(column, choice_field(column, choices,
                                                           optional=isinstance(choices, OptionalChoices)))
        cls.formatters_columns = formatters
        cls.search_form_extra_fields = search_fields
        if cls.base_permissions is None or {"can_add", "can_edit"} & set(cls.base_permissions):
            cls.add_form_extra_fields, cls.edit_form_extra_fields = add_fields, edit_fields

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # FAB prints a missing value as "None"; show a dash instead (also through our formatters).
        formatters = dict(self.formatters_columns)
        for column in {*self.list_columns, *self.show_columns}:
            formatters[column] = _dash_for_none(formatters.get(column))
        self.formatters_columns = formatters
        if isinstance(self.datamodel, EagerSQLAInterface):
            relations = [column for column in self.list_columns
                         if "." not in column and self.datamodel.is_relation(column)]
            self.datamodel.eager_relations = tuple(dict.fromkeys([*self.datamodel.eager_relations, *relations]))
        # FAB reads the URL's `_flt_<index>_<column>` from `_all_filters` and lists `_search_filters`.
        for column, filter_classes in self.related_search.items():
            instances = [filter_class(column, self.datamodel) for filter_class in filter_classes]
            self._filters._search_filters[column] = instances
            self._filters._all_filters[column] = instances

    @expose("/edit/<pk>", methods=["GET", "POST"])
    @has_access
    def edit(self, pk):
        """FAB's edit, without the related lists: they belong to the show page, and rendering them
        next to the form doubled the edit page's queries."""
        g.crm_skip_related_views = True
        widgets = self._edit(self._deserialize_pk_if_composite(pk))
        if not widgets:
            return self.post_edit_redirect()
        return self.render_template(self.edit_template, title=self.edit_title, widgets=widgets, related_views=[])

    def _get_related_views_widgets(self, item, orders=None, pages=None, page_sizes=None, widgets=None, **args):
        if g.get("crm_skip_related_views"):
            widgets = widgets or {}
            widgets["related_views"] = []
            return widgets
        return super()._get_related_views_widgets(item, orders=orders, pages=pages, page_sizes=page_sizes,
                                                  widgets=widgets, **args)

    def post_add(self, item):
        self._audit("backoffice.create", backoffice.describe(item))

    def process_form(self, form, is_created):
        # Called before FAB copies the form into the row: the moment to remember the old values.
        if not is_created and request.view_args and "pk" in request.view_args:
            item = self.datamodel.get(request.view_args["pk"], self._base_filters)
            if item is not None:
                g.crm_audit_before = backoffice.snapshot(item)

    def post_update(self, item):
        before = g.pop("crm_audit_before", None)
        changes = backoffice.diff(before, backoffice.snapshot(item)) if before is not None else None
        self._audit("backoffice.update", backoffice.describe(item), changes)

    def pre_delete(self, item):
        g.crm_audit_subject = backoffice.describe(item)

    def post_delete(self, item):
        subject = g.pop("crm_audit_subject", None)
        if subject is not None:
            self._audit("backoffice.delete", subject)

    @staticmethod
    def _audit(action: str, subject: dict, changes: dict | None = None) -> None:
        actor = g.user if getattr(g, "user", None) is not None and g.user.is_authenticated else None
        backoffice.record_staff_edit(actor, action, subject, changes=changes, ip_address=request.remote_addr,
                                     user_agent=request.user_agent.string)

    def get_init_inner_views(self):
        """Related views as tabs in the order `related_views` lists them (FAB uses registration order)."""
        rank = {cls: position for position, cls in enumerate(self.related_views or [])}
        self._related_views.sort(key=lambda view: min((p for cls, p in rank.items() if isinstance(view, cls)),
                                                       default=len(rank)))
        return self._related_views

    # FAB answers 500/400 for an unknown or missing action name and a flash for a refused one;
    # answer 404 and 403 (or the sign-in page) like every other view instead.
    @expose("/action/<string:name>/<pk>", methods=["GET", "POST"])
    def action(self, name, pk):
        self._check_action(name)
        return super().action(name, pk)

    @expose("/action_post", methods=["POST"])
    def action_post(self):
        self._check_action(request.form.get("action"))
        return super().action_post()

    def _check_action(self, name) -> None:
        if name not in self.actions:
            abort(404)
        if not self.appbuilder.sm.has_access(self.get_action_permission_name(name), self.class_permission_name):
            if current_user.is_authenticated:
                abort(403)
            flash(as_unicode(FLAMSG_ERR_SEC_ACCESS_DENIED), "danger")
            login = url_for(self.appbuilder.sm.auth_view.__class__.__name__ + ".login", next=request.url)
            abort(redirect(login))


class ReadOnlyModelView(CrmModelView):
    """List, show and download only: the data comes from elsewhere (billing, the system itself)."""

    base_permissions = ["can_list", "can_show"]
    include_route_methods = {"list", "show", "action", "action_post"}



def contract_number_check(form, field):
    """Contract numbers are 14 digits."""
    if field.data and not is_valid_contract_number(field.data):
        raise ValidationError(gettext("A contract number has exactly 14 digits."))


def inn_check(form, field):
    """An INN has 10 (organisation) or 12 (person) digits with valid check digits."""
    if field.data and not is_valid_inn(field.data):
        raise ValidationError(gettext("The INN must have 10 or 12 digits with valid check digits."))


def first_of_month_check(form, field):
    """Billing periods are stored as the first day of their month."""
    if field.data and field.data.day != 1:
        raise ValidationError(gettext("A period is the first day of a month."))


def not_before(other: str):
    """The field's date must not be earlier than the date in field `other`."""

    def check(form, field):
        start = form[other].data
        if field.data and start and field.data < start:
            raise ValidationError(gettext("This date must not be earlier than the start date."))

    return check


def row_or_404(model, pk):
    """The row `pk` of `model` for a custom show/POST route; 404 for an unknown or non-numeric key."""
    row = db.session.get(model, int(pk)) if str(pk).isdigit() else None
    if row is None:
        abort(404)
    return row


def flash_refusal(error) -> None:
    """Undo a refused staff action and flash its messages (each of `problems` per field, else `message`)."""
    db.session.rollback()
    problems = getattr(error, "problems", None)
    for message in [m for ms in problems.values() for m in ms] if problems else [error.message]:
        flash(message, "danger")


def add_category_views(appbuilder, category: tuple, views) -> None:
    """Add `views`, rows of (view, menu name, label, icon), under `category` (name, label, icon)."""
    for view, name, label, icon in views:
        appbuilder.add_view(view, name, label=label, icon=icon, category=category[0], category_label=category[1],
                            category_icon=category[2])
