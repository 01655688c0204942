"""Appeal drafts (issue 6 item 4): the steps completed so far and their files, kept one calendar
month after the last save, then deleted with their stored files by a scheduled job."""
from __future__ import annotations

from sqlalchemy import delete, select

from crm import clock
from crm.extensions import db
from crm.models import AppealAttachment, AppealDraft
from crm.services import ServiceError
from crm.services import appeal_attachments as attachments
from crm.services.appeal_forms import current_form
from workflows.appeal_base import (
    AppealError,
    StoredFiles,
    add_files,
    as_appeal_error,
    commit,
    contract_scope,
    fail,
    own_draft,
    section_and_subsection,
)
from workflows.appeal_support import add_month


def save_draft(author, *, draft_id=None, topic_id, section_id, subsection_id=None, contract_id=None,
               energy_object_id=None, steps_completed: int, form_data: dict,
               files: dict[str, list] | None = None) -> AppealDraft:
    """Create or update the author's draft; it expires one calendar month after this save; commits."""
    stored = StoredFiles()
    try:
        section, subsection = section_and_subsection(section_id, subsection_id)
        _grant, object_id = contract_scope(author, section, contract_id, energy_object_id)
        draft = own_draft(author, draft_id)
        form = current_form(subsection or section)
        now = clock.now()
        if draft is None:
            draft = AppealDraft(author_id=author.id, created_at=now)
            db.session.add(draft)
        draft.topic_id = section.parent_id or topic_id  # the catalogue is the truth, not the form
        draft.section_id = section.id
        draft.subsection_id = subsection.id if subsection else None
        draft.contract_id = int(contract_id) if contract_id else None
        draft.energy_object_id = object_id
        draft.form_id = form.id if form is not None else None
        draft.steps_completed = max(0, int(steps_completed or 0))
        draft.form_data = dict(form_data or {})
        draft.updated_at = now
        draft.expires_at = add_month(now)
        db.session.flush()
        for name, items in (files or {}).items():
            add_files({"draft_id": draft.id}, stored.store(items), field_name=name, uploader=author)
        db.session.commit()
    except AppealError:
        fail(stored)
        raise
    except ServiceError as exc:
        fail(stored)
        raise as_appeal_error(exc) from exc
    except Exception:
        fail(stored)
        raise
    return draft


def delete_draft(author, draft_id) -> None:
    """Delete the author's draft and its stored files; commits."""
    draft = own_draft(author, draft_id)
    keys = [item.storage_key for item in draft.attachments]
    db.session.delete(draft)
    commit()
    attachments.delete_stored(keys)


def expire_drafts(now=None) -> int:
    """Delete drafts past their expiry date and their stored files; returns how many (idempotent)."""
    now = now or clock.now()
    expired = select(AppealDraft.id).where(AppealDraft.expires_at <= now)
    ids = list(db.session.scalars(expired))
    if not ids:
        return 0
    keys = list(db.session.scalars(select(AppealAttachment.storage_key).where(AppealAttachment.draft_id.in_(ids))))
    db.session.execute(delete(AppealAttachment).where(AppealAttachment.draft_id.in_(ids)))
    db.session.execute(delete(AppealDraft).where(AppealDraft.id.in_(ids)))
    commit()
    attachments.delete_stored(keys)
    return len(ids)
