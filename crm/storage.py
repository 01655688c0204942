"""File storage behind one small interface (DESIGN habit 8): documents, exports, uploads.

`STORAGE_URL` chooses the backend: `file:///path` keeps files on the local disk (the default, under
`instance/files`). Keys are generated (`<area>/<yyyy>/<mm>/<uuid><suffix>`), never taken from a user's
file name, so a name can neither escape the directory nor collide. An S3-compatible backend can be added
behind the same three methods.
"""
from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import urlparse

from flask import current_app

from crm import clock


class StorageError(Exception):
    """A key is malformed or its file is missing."""


class Storage(Protocol):
    def put(self, area: str, data: bytes | BinaryIO, suffix: str = "") -> str: ...
    def open(self, key: str) -> BinaryIO: ...
    def delete(self, key: str) -> None: ...


def new_key(area: str, suffix: str = "") -> str:
    """A fresh key under `area` (letters, digits, `_` and `-` only), with an optional suffix like `.xlsx`."""
    if not area.replace("_", "").replace("-", "").isalnum():
        raise StorageError(f"bad storage area {area!r}")
    if suffix and not (suffix.startswith(".") and suffix[1:].isalnum() and len(suffix) <= 10):
        raise StorageError(f"bad suffix {suffix!r}")
    today = clock.today()
    return f"{area}/{today:%Y}/{today:%m}/{uuid.uuid4().hex}{suffix.lower()}"


class LocalStorage:
    """Files on the local disk under `root`; writes go to a temporary name first, then an atomic rename."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise StorageError(f"key outside the storage: {key!r}")
        return path

    def put(self, area: str, data: bytes | BinaryIO, suffix: str = "") -> str:
        """Store `data` (bytes or a binary file object) and return its new key."""
        key = new_key(area, suffix)
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".part")
        with open(partial, "wb") as target:
            if isinstance(data, (bytes, bytearray)):
                target.write(data)
            else:
                shutil.copyfileobj(data, target)
        os.replace(partial, path)
        return key

    def open(self, key: str) -> BinaryIO:
        """The stored file for reading; `StorageError` when it is missing."""
        try:
            return open(self._path(key), "rb")
        except FileNotFoundError as exc:
            raise StorageError(f"no stored file {key!r}") from exc

    def path(self, key: str) -> Path:
        """The file's path on disk (for `send_file`)."""
        path = self._path(key)
        if not path.is_file():
            raise StorageError(f"no stored file {key!r}")
        return path

    def delete(self, key: str) -> None:
        """Remove the file; a missing one is not an error (deletion is retried by jobs)."""
        try:
            self._path(key).unlink()
        except FileNotFoundError:
            pass


def storage_from_url(url: str) -> Storage:
    """The backend for a `STORAGE_URL`."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return LocalStorage(parsed.path)
    raise StorageError(f"unsupported STORAGE_URL scheme {parsed.scheme!r}")


def get_storage() -> Storage:
    """The app's storage (one per app, built on first use)."""
    extensions = current_app.extensions
    if "crm.storage" not in extensions:
        extensions["crm.storage"] = storage_from_url(current_app.config["STORAGE_URL"])
    return extensions["crm.storage"]
