"""Errors and transaction helpers shared by the appeal modules (appeals, drafts, assignment).

Nothing here commits except `commit()`, which the public service functions call once at their end.
"""
from __future__ import annotations

from flask_babel import gettext as _

from crm.access import grant_for
from crm.extensions import db
from crm.models import Appeal, AppealAttachment, AppealDraft, AppealTopic, EnergyObject
from crm.services import ServiceError
from crm.services import appeal_attachments as attachments
from crm.services.appeal_attachments import AttachmentError
from workflows.appeal_support import customer_may_see


class AppealError(ServiceError):
    """Bad input for an appeal operation; nothing was changed. `errors`: field → message (forms)."""

    def __init__(self, message, *, errors: dict | None = None, status: int = 400):
        super().__init__(str(message), status=status)
        self.errors = errors or {}


def as_appeal_error(error: ServiceError) -> AppealError:
    """Another service's refusal as an AppealError (form errors keep their fields), so callers catch one type."""
    return AppealError(error.message, errors=getattr(error, "errors", None), status=error.status)


class StoredFiles:
    """Keys of files stored during one operation, removed again if its transaction fails."""

    def __init__(self):
        self.keys: list[str] = []

    def store(self, files) -> list[dict]:
        try:
            items = attachments.store_uploads(files)
        except AttachmentError as exc:
            raise AppealError(exc.message) from exc
        self.keys.extend(item["storage_key"] for item in items)
        return items

    def discard(self) -> None:
        attachments.delete_stored(self.keys)


def fail(stored: StoredFiles | None = None) -> None:
    """Roll back the transaction and remove the files stored during it."""
    db.session.rollback()
    if stored is not None:
        stored.discard()


def commit(stored: StoredFiles | None = None) -> None:
    """Commit; on failure roll back and remove the files stored during the operation."""
    try:
        db.session.commit()
    except Exception:
        fail(stored)
        raise


def is_staff(user) -> bool:
    """Whether the user acts as staff (any staff FAB role)."""
    return bool(getattr(user, "is_staff", False))


def require_customer_access(appeal: Appeal, user) -> None:
    """AppealError 404 unless the customer may see the appeal (existence is not revealed)."""
    if not customer_may_see(user, appeal):
        raise AppealError(_("Appeal not found."), status=404)


def section_and_subsection(section_id, subsection_id) -> tuple[AppealTopic, AppealTopic | None]:
    """The active section and (optional) subsection of it, else AppealError."""
    section = db.session.get(AppealTopic, section_id) if section_id else None
    if section is None or section.level != "section" or not section.active:
        raise AppealError(_("Choose a section of the appeal."), errors={"section_id": _("Choose a section.")})
    subsection = None
    if subsection_id:
        subsection = db.session.get(AppealTopic, subsection_id)
        if (subsection is None or subsection.parent_id != section.id or subsection.level != "subsection"
                or not subsection.active):
            raise AppealError(_("Choose a subsection of the chosen section."),
                              errors={"subsection_id": _("Choose a subsection.")})
    return section, subsection


def contract_scope(author, section: AppealTopic, contract_id, energy_object_id):
    """The author's grant on the contract and the checked object id (AppealError if not allowed)."""
    if not contract_id:
        if section.requires_contract:
            raise AppealError(_("Choose the contract this appeal is about."),
                              errors={"contract_id": _("Choose a contract.")})
        if energy_object_id:
            raise AppealError(_("Choose the contract of the object first."))
        return None, None
    grant = grant_for(author, int(contract_id))
    if grant is None:
        raise AppealError(_("You have no access to this contract."), status=403,
                          errors={"contract_id": _("You have no access to this contract.")})
    if energy_object_id:
        obj = db.session.get(EnergyObject, int(energy_object_id))
        if obj is None or obj.contract_id != grant.contract.id or not grant.covers_object(obj.id):
            raise AppealError(_("This object is not among the objects of the contract available to you."),
                              errors={"energy_object_id": _("Choose one of your objects.")})
    return grant, (int(energy_object_id) if energy_object_id else None)


def own_draft(author, draft_id) -> AppealDraft | None:
    """The author's draft (None without an id), else AppealError 404."""
    if not draft_id:
        return None
    draft = db.session.get(AppealDraft, int(draft_id))
    if draft is None or draft.author_id != author.id:
        raise AppealError(_("The draft was not found; it may have expired."), status=404)
    return draft


def add_files(owner: dict, items: list[dict], *, field_name=None, uploader=None, message=None) -> None:
    """AppealAttachment rows for stored files; `owner` is {"appeal_id": …} or {"draft_id": …}."""
    for item in items:
        db.session.add(AppealAttachment(**owner, **item, field_name=field_name, message=message,
                                        uploaded_by_id=getattr(uploader, "id", None)))
