"""Help (SPEC C15): FAQ and its search, contacts per contract, help pages per locale, "Ask a question"
and the getting-started tips switch.

The FAQ is a small table, so search runs in Python with `str.casefold()`: SQLite's lower() folds ASCII
only, and «Пароль» must match «пароль» on every database.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, render_template
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from crm import clock
from crm.access import accessible_contracts
from crm.extensions import db
from crm.models import Branch, ContactQuestion, Contract, Curator, FaqGroup, FaqItem, HelpPage
from crm.services import ServiceError, accounts, audit, outbox, throttle
from crm.services.help_defaults import DEFAULT_PAGES
from crm.services.markdown_render import plain_text

HELP_SLUGS = ("guide", "agreement", "ways-to-pay")
FALLBACK_LOCALE = "ru"
QUESTION_MAX = 4000
QUESTION_MIN = 10
ANSWER_MAX = 4000
SEARCH_MAX = 200
DEFAULT_CONTACT_CENTRE = "contact-centre@energo.example"


class HelpError(ServiceError):
    """A refused help action; `problems` maps a field to its messages."""

    def __init__(self, problems: dict[str, list[str]], status: int = 400):
        super().__init__(" ".join(m for ms in problems.values() for m in ms), status=status)
        self.problems = problems


# --- FAQ ---------------------------------------------------------------------------------------

@dataclass
class FaqSection:
    group: FaqGroup
    items: list[FaqItem]


def _matches(item: FaqItem, words: list[str]) -> bool:
    haystack = f"{item.question}\n{plain_text(item.answer_markdown)}".casefold()
    return all(word in haystack for word in words)


def faq(query: str | None = None, group_id: int | None = None) -> list[FaqSection]:
    """FAQ groups with their questions; with a query, only questions holding every word of it
    (case-insensitive, Cyrillic included), and only groups left with a question."""
    groups = db.session.scalars(select(FaqGroup).options(selectinload(FaqGroup.items))
                                .order_by(FaqGroup.position, FaqGroup.name)).all()
    words = (query or "").strip()[:SEARCH_MAX].casefold().split()
    sections = []
    for group in groups:
        if group_id is not None and group.id != group_id:
            continue
        items = [item for item in group.items if not words or _matches(item, words)]
        if items or (not words and group_id is not None):
            sections.append(FaqSection(group, items))
    return sections


def faq_groups() -> list[FaqGroup]:
    return list(db.session.scalars(select(FaqGroup).order_by(FaqGroup.position, FaqGroup.name)))


# --- contacts ----------------------------------------------------------------------------------

@dataclass
class ContactCard:
    contract: Contract
    branch: Branch
    curators: list[Curator]


def contacts(user, contract_ids: list[int] | None) -> list[ContactCard]:
    """The branch and curators of each chosen contract among the user's own (all of them when none is
    chosen); a contract id the user has no role on is ignored, never shown."""
    grants = accessible_contracts(user)
    own = {grant.contract.id for grant in grants}
    chosen = [cid for cid in (contract_ids or []) if cid in own] or sorted(own)
    if not chosen:
        return []
    rows = db.session.scalars(select(Contract).where(Contract.id.in_(chosen))
                              .options(selectinload(Contract.branch), selectinload(Contract.curators),
                                       selectinload(Contract.counterparty))
                              .order_by(Contract.number)).all()
    return [ContactCard(row, row.branch, sorted(row.curators, key=lambda c: c.full_name)) for row in rows]


# --- help pages --------------------------------------------------------------------------------

def help_page(slug: str, locale: str | None) -> HelpPage | None:
    """The page in `locale`, else in Russian (the default the company always writes), else None."""
    if slug not in HELP_SLUGS:
        return None
    pages = {page.locale: page for page in db.session.scalars(select(HelpPage).where(HelpPage.slug == slug))}
    return pages.get((locale or FALLBACK_LOCALE)[:2]) or pages.get(FALLBACK_LOCALE)


def ensure_help_pages(commit: bool = True) -> int:
    """Add the default text of each missing (slug, locale); edited pages stay as they are. Returns
    how many pages were added (0 on a second run). The demo passes commit=False: it owns its transaction."""
    existing = set(db.session.execute(select(HelpPage.slug, HelpPage.locale)).tuples())
    added = 0
    for (slug, locale), (title, body) in DEFAULT_PAGES.items():
        if (slug, locale) not in existing:
            db.session.add(HelpPage(slug=slug, locale=locale, title=title, body_markdown=body,
                                    updated_at=clock.now()))
            added += 1
    if commit:
        db.session.commit()
    return added


# --- "Ask a question" --------------------------------------------------------------------------

def _recipient(contract: Contract | None) -> str:
    if contract is not None and contract.branch is not None and contract.branch.email:
        return contract.branch.email
    return current_app.config.get("CONTACT_CENTRE_EMAIL") or DEFAULT_CONTACT_CENTRE


def ask_question(user, name: str, email: str, phone: str | None, text: str,
                 contract_id: int | None = None) -> ContactQuestion:
    """Keep the question for staff and e-mail it to the contract's branch (or the contact centre).

    Throttled per e-mail address and per client address (also for anonymous visitors on the sign-in
    page): TooManyAttemptsError (429) when over the limit, and nothing is saved then."""
    problems: dict[str, list[str]] = {}
    name = (name or "").strip()
    if not name:
        problems["name"] = [_("Enter your name.")]
    elif len(name) > 255:
        problems["name"] = [_("The name is too long (at most %(max)d characters).", max=255)]
    try:
        email = accounts.normalise_email(email)
    except accounts.ValidationError as exc:
        problems["email"] = exc.problems["email"]
    if (phone or "").strip():
        try:
            phone = accounts.normalise_phone(phone)
        except accounts.ValidationError as exc:
            problems["phone"] = exc.problems["phone"]
    else:
        phone = None
    text = (text or "").strip()
    if len(text) < QUESTION_MIN:
        problems["text"] = [_("Write your question (at least %(min)d characters).", min=QUESTION_MIN)]
    elif len(text) > QUESTION_MAX:
        problems["text"] = [_("The question is too long (at most %(max)d characters).", max=QUESTION_MAX)]
    contract = None
    if contract_id is not None:
        own = {g.contract.id: g.contract for g in accessible_contracts(user)} if user is not None else {}
        contract = own.get(contract_id)
        if contract is None:
            problems["contract_id"] = [_("Choose one of your contracts.")]
    if problems:
        raise HelpError(problems)
    throttle.hit("question", email)
    question = ContactQuestion(user_id=getattr(user, "id", None), contract_id=contract_id, name=name, email=email,
                               phone=phone, text=text, status="new", created_at=clock.now())
    db.session.add(question)
    db.session.flush()
    outbox.queue_email(_recipient(contract), _("Question from the portal No. %(id)d", id=question.id),
                       render_template("email/contact_question.txt", question=question, contract=contract),
                       category="contact_question")
    audit.record("contact_question.asked", actor=user, subject_type="contact_question", subject_id=question.id)
    db.session.commit()
    return question


def _question(question_id: int) -> ContactQuestion:
    question = db.session.get(ContactQuestion, question_id)
    if question is None:
        raise HelpError({"question": [_("The question does not exist.")]}, status=404)
    return question


def answer_question(question_id: int, staff, answer: str) -> ContactQuestion:
    """E-mail the answer to the asker and mark the question answered."""
    question = _question(question_id)
    answer = (answer or "").strip()
    problems: dict[str, list[str]] = {}
    if question.status != "new":
        problems["status"] = [_("The question has already been handled.")]
    if not answer:
        problems["answer"] = [_("Write the answer.")]
    elif len(answer) > ANSWER_MAX:
        problems["answer"] = [_("The answer is too long (at most %(max)d characters).", max=ANSWER_MAX)]
    if problems:
        raise HelpError(problems)
    question.answer, question.status = answer, "answered"
    question.handled_by_id, question.handled_at = staff.id, clock.now()
    outbox.queue_email(question.email, _("Answer to your question No. %(id)d", id=question.id),
                       render_template("email/contact_answer.txt", question=question),
                       user_id=question.user_id, category="contact_question")
    audit.record("contact_question.answered", actor=staff, subject_type="contact_question", subject_id=question.id)
    db.session.commit()
    return question


def mark_handled(question_id: int, staff) -> ContactQuestion:
    """Close a question without an e-mail (answered by phone, a duplicate, spam)."""
    question = _question(question_id)
    if question.status != "new":
        raise HelpError({"status": [_("The question has already been handled.")]})
    question.status = "handled"
    question.handled_by_id, question.handled_at = staff.id, clock.now()
    audit.record("contact_question.handled", actor=staff, subject_type="contact_question", subject_id=question.id)
    db.session.commit()
    return question


# --- getting-started tips ----------------------------------------------------------------------

def set_tips_dismissed(user, dismissed: bool) -> None:
    """Hide the tips widget (from the widget) or show it again (from the profile)."""
    if user.tips_dismissed != dismissed:
        user.tips_dismissed = dismissed
        audit.record("profile.tips", actor=user, subject_type="user", subject_id=user.id,
                     detail={"dismissed": dismissed})
    db.session.commit()
