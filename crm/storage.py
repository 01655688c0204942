"""File storage behind one small interface (DESIGN habit 8): documents, exports, uploads.

`STORAGE_URL` chooses the backend: `file:///path` keeps files on the local disk (the default, under
`instance/files`); `s3://bucket/prefix` keeps them in an S3-compatible object store (AWS S3, MinIO,
Yandex Object Storage …) with the endpoint in `S3_ENDPOINT_URL` and the credentials and region boto3
reads from the environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_DEFAULT_REGION`).
Keys are generated (`<area>/<yyyy>/<mm>/<uuid><suffix>`), never taken from a user's file name, so a name
can neither escape the directory nor collide.

Every backend offers `put`, `open`, `delete` and `sweep` (remove an area's files older than a cutoff,
for the transient areas below); downloads read `open()` and stream it, so they work the same on any
backend (`LocalStorage.path()` exists for local-only tools and is not part of the
interface).
"""
from __future__ import annotations

import io
import os
import shutil
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import urlparse

from flask import current_app

from crm import clock

#: Areas holding files between two pages of one person's work: the new-appeal wizard's uploads
#: (customer_portal/appeal_wizard.py) and readings files awaiting confirmation
#: (customer_portal/readings_files.py). Nothing refers to them once that work is sent or abandoned,
#: so a periodic job sweeps what is older than TRANSIENT_UPLOAD_MAX_AGE_HOURS.
TRANSIENT_AREAS = ("appeal_uploads", "readings_uploads")


class StorageError(Exception):
    """A key is malformed or its file is missing."""


class Storage(Protocol):
    def put(self, area: str, data: bytes | BinaryIO, suffix: str = "") -> str: ...
    def open(self, key: str) -> BinaryIO: ...
    def delete(self, key: str) -> None: ...
    def sweep(self, area: str, older_than: datetime) -> int: ...


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

    def sweep(self, area: str, older_than: datetime) -> int:
        """Remove the area's files last written before `older_than` (and folders left empty); their count."""
        new_key(area)  # validates the area name
        base = self.root / area
        if not base.is_dir():
            return 0
        cutoff, removed = older_than.timestamp(), 0
        for path in sorted(base.rglob("*"), reverse=True):  # files before the folders holding them
            try:
                if path.is_file() and path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
                elif path.is_dir() and not any(path.iterdir()):
                    path.rmdir()
            except FileNotFoundError:  # removed meanwhile by the request that owned it
                continue
        return removed


class S3Storage:
    """Objects in an S3-compatible bucket under an optional key prefix; boto3 does the HTTP.

    A missing object reads as `StorageError`, like a missing local file; deleting one is not an error."""

    def __init__(self, bucket: str, prefix: str = "", *, endpoint_url: str | None = None, client=None):
        if not bucket:
            raise StorageError("STORAGE_URL s3://… needs a bucket name")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        if client is None:
            import boto3
            from botocore.config import Config as BotoConfig

            client = boto3.client("s3", endpoint_url=endpoint_url or None,
                                  config=BotoConfig(retries={"max_attempts": 3, "mode": "standard"}))
        self.client = client

    def _object_key(self, key: str) -> str:
        parts = key.split("/")
        if not key or key.startswith("/") or any(part in ("", ".", "..") for part in parts):
            raise StorageError(f"bad storage key {key!r}")
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, area: str, data: bytes | BinaryIO, suffix: str = "") -> str:
        """Store `data` (bytes or a binary file object) and return its new key."""
        key = new_key(area, suffix)
        body = bytes(data) if isinstance(data, (bytes, bytearray)) else data.read()
        self.client.put_object(Bucket=self.bucket, Key=self._object_key(key), Body=body)
        return key

    def open(self, key: str) -> BinaryIO:
        """The stored object for reading (a file object); `StorageError` when it is missing."""
        from botocore.exceptions import ClientError

        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._object_key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                raise StorageError(f"no stored file {key!r}") from exc
            raise
        # Read into a seekable buffer: send_file and spreadsheet readers seek; files are ≤ tens of MB.
        with response["Body"] as body:
            return io.BytesIO(body.read())

    def delete(self, key: str) -> None:
        """Remove the object; a missing one is not an error (S3 answers 204 either way)."""
        self.client.delete_object(Bucket=self.bucket, Key=self._object_key(key))

    def sweep(self, area: str, older_than: datetime) -> int:
        """Remove the area's objects last modified before `older_than`; their count (batches of 1 000)."""
        new_key(area)  # validates the area name
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._object_key(area) + "/")
        removed = 0
        for page in pages:
            old = [{"Key": item["Key"]} for item in page.get("Contents", []) if item["LastModified"] < older_than]
            if old:
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": old, "Quiet": True})
                removed += len(old)
        return removed


def storage_from_url(url: str, *, s3_endpoint_url: str | None = None) -> Storage:
    """The backend for a `STORAGE_URL` (`file:///path` or `s3://bucket/prefix`)."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return LocalStorage(parsed.path)
    if parsed.scheme == "s3":
        return S3Storage(parsed.netloc, parsed.path, endpoint_url=s3_endpoint_url)
    raise StorageError(f"unsupported STORAGE_URL scheme {parsed.scheme!r}")


def sweep_transient_areas() -> int:
    """Remove files of the transient areas older than TRANSIENT_UPLOAD_MAX_AGE_HOURS; how many."""
    max_age = timedelta(hours=current_app.config.get("TRANSIENT_UPLOAD_MAX_AGE_HOURS", 48))
    storage = get_storage()
    return sum(storage.sweep(area, clock.now() - max_age) for area in TRANSIENT_AREAS)


def get_storage() -> Storage:
    """The app's storage (one per app, built on first use)."""
    extensions = current_app.extensions
    if "crm.storage" not in extensions:
        extensions["crm.storage"] = storage_from_url(current_app.config["STORAGE_URL"],
                                                     s3_endpoint_url=current_app.config.get("S3_ENDPOINT_URL"))
    return extensions["crm.storage"]
