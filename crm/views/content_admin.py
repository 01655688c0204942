"""Back office «Контент» (SPEC C14, C15): services with pictures, service orders (process, issue a bill),
FAQ groups and items, help pages (Markdown with a rendered preview) and customers' questions (answer or
mark handled). Thin: the rules live in crm/services/service_orders.py and help_content.py.

Admin edits everything; Curator processes orders and questions; Auditor reads."""
from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.file import FileField
from markupsafe import Markup, escape

from crm.models import ContactQuestion, FaqGroup, FaqItem, HelpPage, Service, ServiceOrder
from crm.services import help_content, service_orders
from crm.services.markdown_render import render_markdown
from crm.views.common import (
    CrmModelView,
    EagerSQLAInterface,
    add_category_views,
    contract_number_search,
    flash_refusal,
    money,
    row_or_404,
    timestamp,
    yes_no,
)
from crm.views.labels import labels

CONTENT_ADMIN = {"Auditor": "read"}
CONTENT_DESK = {"Curator": "edit", "Auditor": "read"}
ORDER_STATUSES = ("new", "in_progress", "bill_issued", "done", "cancelled")
QUESTION_STATUSES = {"new": _l("Awaiting an answer"), "answered": _l("Answered"), "handled": _l("Handled")}
HELP_SLUGS = {"guide": _l("User guide"), "agreement": _l("User agreement"), "ways-to-pay": _l("Ways to pay")}


def _markdown_preview(value) -> Markup:
    return Markup('<div class="markdown-preview well">{}</div>').format(render_markdown(value or ""))


def _order_status(value) -> str:
    return service_orders.status_label(value) if value else ""


class ServiceView(CrmModelView):
    """The catalog: name, approximate price, description, picture (PNG, JPEG or WebP up to 2 MB)."""

    route_base = "/admin/content/services"
    datamodel = EagerSQLAInterface(Service)
    staff_access = CONTENT_ADMIN
    list_title = _l("Services")
    show_title = _l("Service")
    add_title = _l("Add service")
    edit_title = _l("Edit service")
    label_columns = labels(name=_l("Name"), description=_l("Description"), approx_price=_l("Approximate price"),
                           price_note=_l("Price as shown"), picture_key=_l("Picture"), position=_l("Sort order"),
                           active=_l("Offered to customers"), picture=_l("Picture"))
    list_columns = ["position", "name", "approx_price", "price_note", "active"]
    show_columns = ["name", "description", "approx_price", "price_note", "picture_key", "position", "active"]
    add_columns = edit_columns = ["name", "description", "approx_price", "price_note", "picture", "position", "active"]
    add_form_extra_fields = edit_form_extra_fields = {
        "picture": FileField(_l("Picture"), description=_l("PNG, JPEG or WebP, at most 2 MB. Leave empty to keep "
                                                           "the current one."))}
    search_columns = ["name", "active"]
    base_order = ("position", "asc")
    formatters_columns = {"approx_price": money, "active": yes_no,
                          "picture_key": lambda key: _l("Uploaded") if key else _l("No picture (an icon is shown)")}
    description_columns = {"price_note": _l("Text on the card, e.g. «от 2 150,90 ₽»; empty: «from» and the price."),
                           "position": _l("Cards are shown by position, smallest first.")}

    def _store_picture(self, item) -> None:
        upload = request.files.get("picture")
        if upload is None or not upload.filename:
            return
        try:
            item.picture_key = service_orders.store_picture(upload.read())
        except service_orders.OrderError as exc:
            flash(exc.message, "danger")
            abort(redirect(request.url))

    def pre_add(self, item):
        self._store_picture(item)

    def pre_update(self, item):
        self._store_picture(item)


class ServiceOrderView(CrmModelView):
    """Orders from the portal: list and filter, then process one (status, comment, bill)."""

    route_base = "/admin/content/service-orders"
    datamodel = EagerSQLAInterface(ServiceOrder)
    staff_access = CONTENT_DESK
    base_permissions = ["can_list", "can_show", "can_process"]
    list_title = _l("Service orders")
    show_title = _l("Service order")
    label_columns = labels(number=_l("Order No."), service=_l("Service"), user=_l("Customer account"),
                           contract=_l("Contract"), contact_name=_l("Contact person"), phone=_l("Phone"),
                           task=_l("Task"), status=_l("Status"), staff_comment=_l("Comment"),
                           processed_at=_l("Processed"), created_at=_l("Ordered"), bill_document_id=_l("Bill"))
    list_columns = ["number", "created_at", "service", "contract", "contact_name", "phone", "status"]
    show_columns = ["number", "created_at", "service", "user", "contract", "contact_name", "phone", "task", "status",
                    "staff_comment", "processed_at", "bill_document_id"]
    search_columns = ["number", "status", "service", "contract", "contact_name", "phone", "created_at"]
    related_search = contract_number_search()
    base_order = ("created_at", "desc")
    formatters_columns = {"created_at": timestamp, "processed_at": timestamp, "status": _order_status}
    choice_columns = {"status": (("new", _l("Received")), ("in_progress", _l("In progress")),
                                 ("bill_issued", _l("Bill issued")), ("done", _l("Done")),
                                 ("cancelled", _l("Cancelled")))}

    @expose("/show/<pk>")
    @has_access
    def show(self, pk):
        """The order with the processing forms (for those who may process)."""
        order = row_or_404(ServiceOrder, pk)
        can_process = self.appbuilder.sm.has_access("can_process", self.class_permission_name)
        allowed = sorted(service_orders.TRANSITIONS.get(order.status, ()), key=ORDER_STATUSES.index)
        return self.render_template("content_admin/order_process.html", order=order,
                                    bill=service_orders.order_bill(order), status_label=service_orders.status_label,
                                    allowed=allowed if can_process else [],
                                    can_bill=can_process and order.status in service_orders.BILLABLE)

    @expose("/process/<int:pk>", methods=["POST"])
    @has_access
    def process(self, pk: int):
        """Change the status, comment, or issue a bill on the order's contract."""
        order = row_or_404(ServiceOrder, pk)
        comment = request.form.get("comment")
        try:
            if request.form.get("decision") == "bill":
                bill = service_orders.issue_bill(order.id, current_user, request.form.get("amount"), comment)
                flash(gettext("Bill No. %(number)s issued.", number=bill.number), "success")
            else:
                service_orders.change_status(order.id, current_user, request.form.get("status", ""), comment)
                flash(gettext("Order status saved."), "success")
        except service_orders.OrderError as exc:
            flash_refusal(exc)
        return redirect(url_for("ServiceOrderView.show", pk=order.id))


class FaqGroupView(CrmModelView):
    route_base = "/admin/content/faq-groups"
    datamodel = EagerSQLAInterface(FaqGroup)
    staff_access = CONTENT_ADMIN
    list_title = _l("FAQ groups")
    show_title = add_title = edit_title = _l("FAQ group")
    label_columns = labels(name=_l("Name"), position=_l("Sort order"))
    list_columns = show_columns = add_columns = edit_columns = ["name", "position"]
    search_columns = ["name"]
    base_order = ("position", "asc")


class FaqItemView(CrmModelView):
    route_base = "/admin/content/faq"
    datamodel = EagerSQLAInterface(FaqItem)
    staff_access = CONTENT_ADMIN
    list_title = _l("Questions and answers")
    show_title = add_title = edit_title = _l("Question and answer")
    label_columns = labels(group=_l("Group"), question=_l("Question"), answer_markdown=_l("Answer (Markdown)"),
                           position=_l("Sort order"))
    list_columns = ["group", "question", "position"]
    show_columns = ["group", "question", "answer_markdown", "position"]
    add_columns = edit_columns = ["group", "question", "answer_markdown", "position"]
    search_columns = ["group", "question", "answer_markdown"]
    base_order = ("position", "asc")
    formatters_columns = {"answer_markdown": _markdown_preview}


class HelpPageView(CrmModelView):
    """The user guide, the user agreement and the ways to pay, per language; the show page is the preview."""

    route_base = "/admin/content/help-pages"
    datamodel = EagerSQLAInterface(HelpPage)
    staff_access = CONTENT_ADMIN
    base_permissions = ["can_list", "can_show", "can_edit"]
    list_title = _l("Help pages")
    show_title = _l("Help page (preview)")
    edit_title = _l("Edit help page")
    label_columns = labels(slug=_l("Page"), locale=_l("Language"), title=_l("Title"),
                           body_markdown=_l("Text (Markdown)"), updated_at=_l("Updated"))
    list_columns = ["slug", "locale", "title", "updated_at"]
    show_columns = ["slug", "locale", "title", "body_markdown", "updated_at"]
    edit_columns = ["title", "body_markdown"]
    search_columns = ["slug", "locale", "title"]
    base_order = ("slug", "asc")
    formatters_columns = {"body_markdown": _markdown_preview, "updated_at": timestamp,
                          "slug": lambda value: HELP_SLUGS.get(value, value)}
    description_columns = {"body_markdown": _l("Markdown: ## heading, **bold**, lists with 1. or -, links "
                                               "[text](https://…). Save, then open the page to see the preview.")}

    def post_update(self, item):
        super().post_update(item)
        flash(Markup('{} <a href="{}">{}</a>').format(escape(gettext("Page saved.")),
                                                    url_for("HelpPageView.show", pk=item.id),
                                                    escape(gettext("Open the preview"))), "success")


class ContactQuestionView(CrmModelView):
    """"Ask a question" from the portal and the sign-in page: answer by e-mail or mark handled."""

    route_base = "/admin/content/questions"
    datamodel = EagerSQLAInterface(ContactQuestion)
    staff_access = CONTENT_DESK
    base_permissions = ["can_list", "can_show", "can_answer"]
    list_title = _l("Questions from customers")
    show_title = _l("Question from a customer")
    label_columns = labels(created_at=_l("Asked"), name=_l("Name of the asker"), email=_l("E-mail"), phone=_l("Phone"),
                           text=_l("Question"), status=_l("Status"), answer=_l("Answer"), contract=_l("Contract"),
                           handled_at=_l("Handled"), user=_l("Customer account"))
    list_columns = ["created_at", "name", "email", "contract", "status"]
    show_columns = ["created_at", "name", "email", "phone", "user", "contract", "text", "status", "answer",
                    "handled_at"]
    search_columns = ["status", "name", "email", "text", "created_at"]
    base_order = ("created_at", "desc")
    formatters_columns = {"created_at": timestamp, "handled_at": timestamp}
    choice_columns = {"status": tuple(QUESTION_STATUSES.items())}

    @expose("/show/<pk>")
    @has_access
    def show(self, pk):
        """The question with the answer form (for those who may answer)."""
        question = row_or_404(ContactQuestion, pk)
        return self.render_template("content_admin/question_answer.html", question=question,
                                    status_label=QUESTION_STATUSES.get(question.status, question.status),
                                    can_answer=self.appbuilder.sm.has_access("can_answer", self.class_permission_name))

    @expose("/answer/<int:pk>", methods=["POST"])
    @has_access
    def answer(self, pk: int):
        """Write the answer (e-mailed to the asker) or close the question without one."""
        question = row_or_404(ContactQuestion, pk)
        try:
            if request.form.get("decision") == "handled":
                help_content.mark_handled(question.id, current_user)
                flash(gettext("The question is marked handled."), "success")
            else:
                help_content.answer_question(question.id, current_user, request.form.get("answer"))
                flash(gettext("The answer has been sent to %(email)s.", email=question.email), "success")
        except help_content.HelpError as exc:
            flash_refusal(exc)
        return redirect(url_for("ContactQuestionView.show", pk=question.id))


def register_content_views(appbuilder) -> None:
    """Add this area's views to `appbuilder` (called by crm.views.register_views)."""
    add_category_views(appbuilder, ("Content", _l("Content"), "fa-newspaper-o"), (
        (ServiceOrderView, "Service orders", _l("Service orders"), "fa-shopping-cart"),
        (ContactQuestionView, "Questions from customers", _l("Questions from customers"), "fa-question-circle"),
        (ServiceView, "Services", _l("Services"), "fa-wrench"),
        (FaqGroupView, "FAQ groups", _l("FAQ groups"), "fa-folder-o"),
        (FaqItemView, "FAQ", _l("Questions and answers"), "fa-question"),
        (HelpPageView, "Help pages", _l("Help pages"), "fa-book"),
    ))
