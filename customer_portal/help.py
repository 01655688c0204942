"""Portal section: help (SPEC C15, seed 004 §10–11, 001 §2, §13, §14). Thin routes over
crm/services/help_content.py: FAQ with search, contacts per contract, the guide, the agreement and the
ways to pay, "Ask a question" (public: also linked from the sign-in page) and the getting-started tips."""
from __future__ import annotations

from dataclasses import dataclass

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from crm.access import Capability
from crm.extensions import db
from crm.services import help_content
from crm.services.markdown_render import render_markdown
from crm.services.throttle import TooManyAttemptsError
from customer_portal import account_route, bp, public_route
from customer_portal.auth import too_many
from customer_portal.content_forms import AskQuestionForm, apply_problems
from customer_portal.context import portal_grants, safe_next, selected_grant


def _int_arg(name: str) -> int | None:
    try:
        return int(request.args.get(name, ""))
    except ValueError:
        return None


@bp.route("/help/")
@public_route
def help_faq():
    """Questions and answers by group, with a search phrase and a group filter [004 §10.1]."""
    query = (request.args.get("q") or "").strip()
    group_id = _int_arg("group")
    return render_template("portal/help/faq.html", sections=help_content.faq(query, group_id),
                           groups=help_content.faq_groups(), query=query, group_id=group_id,
                           markdown=render_markdown)


@bp.route("/help/contacts")
@account_route
def help_contacts():
    """The branch and curators of the chosen contracts (all of the user's by default) [004 §10.2]."""
    chosen = [int(v) for v in request.args.getlist("contract") if v.isdigit()]
    return render_template("portal/help/contacts.html", cards=help_content.contacts(current_user, chosen),
                           grants=portal_grants(), chosen=set(chosen))


@bp.route("/help/pages/<slug>")
@public_route
def help_page(slug: str):
    """The user guide, the user agreement or the ways to pay, in the current language."""
    page = help_content.help_page(slug, str(get_locale() or "ru"))
    if page is None:
        abort(404)
    return render_template("portal/help/page.html", page=page, body=render_markdown(page.body_markdown))


def _question_contract_choices():
    return [("", "—")] + [(str(g.contract.id), g.contract.number) for g in portal_grants()]


@bp.route("/help/ask", methods=["GET", "POST"])
@public_route
def help_ask():
    """"Ask a question": kept for staff and e-mailed to the branch or the contact centre; throttled."""
    signed_in = current_user.is_authenticated
    if request.method == "POST":
        form = AskQuestionForm()
    else:
        data = {}
        if signed_in:
            selected = selected_grant()
            data = {"name": current_user.full_name, "email": current_user.email, "phone": current_user.phone,
                    "contract_id": selected.contract.id if selected else None}
        form = AskQuestionForm(formdata=None, data=data)
    form.contract_id.choices = _question_contract_choices() if signed_in else [("", "—")]
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            try:
                question = help_content.ask_question(current_user if signed_in else None, form.name.data,
                                                     form.email.data, form.phone.data, form.text.data,
                                                     form.contract_id.data if signed_in else None)
            except TooManyAttemptsError as exc:
                return too_many(exc)
            except help_content.HelpError as exc:
                db.session.rollback()
                apply_problems(form, exc.problems, "text")
            else:
                flash(_("Your question No. %(id)d has been sent. The answer will come to %(email)s.",
                        id=question.id, email=question.email), "success")
                return redirect(url_for("portal.help_faq" if signed_in else "portal.login"))
    return render_template("portal/help/ask.html", form=form, signed_in=signed_in), status


# --- getting-started tips (seed 001 §2: the "help with the portal" widget) ---------------------

@dataclass(frozen=True)
class Tip:
    key: str
    title: object
    text: object
    endpoint: str
    link_text: object
    capability: Capability | None = None   # contract-scoped: needs the selected contract's role to have it
    icon: str = "lightbulb"


TIPS = (
    Tip("contracts", _l("Your contracts"), _l("Choose a contract in the selector at the top: every section then "
                                               "shows that contract. Add more contracts in «Contracts»."),
        "portal.contract_list", _l("Open contracts"), icon="file-earmark-text"),
    Tip("readings", _l("Submit readings"), _l("Enter meter readings by form or upload the Excel template while "
                                               "the readings window is open."),
        "portal.readings_entry", _l("Submit readings"), Capability.SUBMIT_READINGS, icon="speedometer2"),
    Tip("payments", _l("Debt and payment"), _l("«Settlements» shows what is due and when; pay by card without "
                                                "commission, the receipt comes by e-mail."),
        "portal.settlements", _l("Open settlements"), Capability.VIEW_FINANCE, icon="credit-card"),
    Tip("appeals", _l("Appeals"), _l("Send a question or a request to the company and follow its status; "
                                      "the answer also comes by e-mail."),
        "portal.appeals", _l("Open appeals"), icon="chat-left-text"),
    Tip("profile", _l("Your profile"), _l("Add your phone, confirm your e-mail and choose which notifications "
                                           "to receive."),
        "portal.profile", _l("Open the profile"), icon="person"),
    Tip("help", _l("Help"), _l("Answers to frequent questions, your branch's and curator's contacts, "
                                "and «Ask a question»."),
        "portal.help_faq", _l("Open help"), icon="question-circle"),
)


@dataclass(frozen=True)
class TipLink:
    key: str
    title: str
    text: str
    url: str
    link_text: str
    icon: str


def tips_for_current_user() -> list[TipLink]:
    """The tips to show (none once the user hid them), each linked to a page the user may open."""
    if not current_user.is_authenticated or current_user.tips_dismissed:
        return []
    grant = selected_grant()
    links = []
    for tip in TIPS:
        if tip.endpoint not in current_app.view_functions:
            continue  # a section not installed in this build
        if tip.capability is not None:
            if grant is None or not grant.can(tip.capability):
                continue
            url = url_for(tip.endpoint, contract_id=grant.contract.id)
        else:
            url = url_for(tip.endpoint)
        links.append(TipLink(tip.key, str(tip.title), str(tip.text), url, str(tip.link_text), tip.icon))
    return links


@bp.context_processor
def _tips_context():
    # A callable: the tips are resolved only on the pages that include the widget.
    return {"getting_started_tips": tips_for_current_user}


@bp.route("/help/tips/hide", methods=["POST"])
@account_route
def tips_hide():
    """Hide the tips widget; the profile's settings bring it back."""
    help_content.set_tips_dismissed(current_user, True)
    if request.accept_mimetypes.best == "application/json":
        return {"hidden": True}
    flash(_("Tips hidden. You can show them again in the profile settings."), "info")
    return redirect(safe_next(request.form.get("next")) or url_for("portal.index"))


@bp.route("/help/tips/show", methods=["POST"])
@account_route
def tips_show():
    """Show the tips widget again (from the profile settings)."""
    help_content.set_tips_dismissed(current_user, False)
    flash(_("Tips are shown again on the home page."), "success")
    return redirect(safe_next(request.form.get("next")) or url_for("portal.profile"))
