"""The new-appeal wizard's progress between pages: a signed state blob and the files uploaded so far.

The state travels in a hidden form field, signed with the app's secret (itsdangerous), compressed,
bound to the user and at most `STATE_MAX_AGE` old; it carries ids and values only, every one checked
again by the routes and the appeals service. Files uploaded on a step are checked by content at once
and kept in the file storage under generated keys of the `appeal_uploads` area until the appeal is
sent or saved as a draft (the appeals service stores its own copy then) or the user lets them go.
Files of a run the user simply leaves stay under `appeal_uploads/`; nothing can reach them once the
state expires (a day), so an S3 lifecycle rule on that prefix, or `find <files>/appeal_uploads -mtime +2
-delete` on a local disk, clears them (the storage interface has no listing to do it from a job).
"""
from __future__ import annotations

import io
import secrets

from flask import abort, current_app, request, session
from flask_babel import gettext as _
from flask_login import current_user
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.datastructures import FileStorage

from crm.services.appeal_attachments import AttachmentError, validate_upload
from crm.storage import StorageError, get_storage

UPLOAD_AREA = "appeal_uploads"
STATE_MAX_AGE = 24 * 3600
EXTRA_FILES = ""  # the uploads key of files not tied to a form field
FINISHED_KEY, FINISHED_KEEP = "appeal_wizards_finished", 10


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="portal-appeal-wizard")


def dump_state(state: dict) -> str:
    """The state for the page's hidden `state` field."""
    return _serializer().dumps({**state, "uid": current_user.id})


def load_state(token: str) -> dict:
    """The wizard state from the page; 400 when it was tampered with, expired or is someone else's."""
    try:
        state = _serializer().loads(token or "", max_age=STATE_MAX_AGE)
    except BadSignature:
        abort(400)
    if not isinstance(state, dict) or state.get("uid") != current_user.id:
        abort(400)
    return state


def new_state(choice, *, step: int, data: dict, draft_id: int | None) -> dict:
    """A fresh run of the wizard at `step` (0-based form step)."""
    # `nonce` names this run of the wizard, so a second "Send" of the same page (a double click, the
    # browser's back button) is recognised and does not file the appeal twice.
    return {"nonce": secrets.token_urlsafe(9), "choice": choice.as_dict(), "step": step, "data": data,
            "uploads": {}, "draft_id": draft_id}


def finished(state: dict) -> bool:
    """Whether this run was already sent or saved as a draft."""
    return state.get("nonce") in session.get(FINISHED_KEY, [])


def mark_finished(state: dict) -> None:
    """Remember the last few finished wizard runs in the session (a few bytes each)."""
    session[FINISHED_KEY] = (session.get(FINISHED_KEY, []) + [state["nonce"]])[-FINISHED_KEEP:]


def store_uploads(field_names: list[str]) -> tuple[dict, dict]:
    """Validate then store this request's files per field; (stored per field, errors per field).

    A field with any bad file keeps none of that request's files for it."""
    stored, errors, checked = {}, {}, {}
    for name in field_names:
        items = [item for item in request.files.getlist(f"file__{name}") if item and item.filename]
        try:
            checked[name] = [validate_upload(item) for item in items]
        except AttachmentError as exc:
            errors[name] = exc.message
    storage = get_storage()
    for name, items in checked.items():
        if name in errors:
            continue
        stored[name] = [{"filename": item["filename"], "content_type": item["content_type"], "size": item["size"],
                         "key": storage.put(UPLOAD_AREA, item["data"], item["suffix"])} for item in items]
    return stored, errors


def discard_uploads(state: dict) -> None:
    """Remove the run's uploaded files from the storage (sent, saved into a draft, or abandoned)."""
    storage = get_storage()
    for items in state["uploads"].values():
        for item in items:
            try:
                storage.delete(item["key"])
            except StorageError:
                pass  # a bad key is not worth a failed page: the upload is abandoned either way


class UploadsLostError(Exception):
    """A file uploaded earlier in the wizard is no longer in the storage (e.g. removed by a cleanup)."""

    def __init__(self, filename: str):
        super().__init__(filename)
        self.message = _("The file «%(name)s» attached earlier is no longer available; remove it and attach "
                         "it again.", name=filename)


def as_file_storages(state: dict) -> dict[str, list[FileStorage]]:
    """The stored uploads as werkzeug files again, for the appeals service (which checks and keeps them)."""
    storage = get_storage()
    files: dict[str, list[FileStorage]] = {}
    for name, items in state["uploads"].items():
        for item in items:
            try:
                with storage.open(item["key"]) as handle:
                    data = handle.read()
            except StorageError as exc:
                raise UploadsLostError(item["filename"]) from exc
            files.setdefault(name, []).append(
                FileStorage(stream=io.BytesIO(data), filename=item["filename"], content_type=item["content_type"]))
    return files


def remove_upload(state: dict, key: str) -> None:
    """Let one uploaded file go; only keys the signed state holds are touched."""
    for name, items in state["uploads"].items():
        kept = [item for item in items if item["key"] != key]
        if len(kept) != len(items):
            state["uploads"][name] = kept
            try:
                get_storage().delete(key)
            except StorageError:
                pass  # already gone or a bad key: the file is off the list, which is what the user asked
