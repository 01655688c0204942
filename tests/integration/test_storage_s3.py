"""The S3-compatible storage backend against a real S3 HTTP server (moto_server on loopback)."""
from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest
from werkzeug.datastructures import FileStorage

from crm.storage import S3Storage, StorageError, storage_from_url
from tests.services import free_port, unavailable, wait_for_port

MOTO = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "moto_server"
BUCKET = "crm-files"


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory):
    """A moto S3 server on a free loopback port for this module; stopped afterwards."""
    if not MOTO.exists():
        unavailable("moto_server is not installed")
    port = free_port()
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "wb")
    process = subprocess.Popen([str(MOTO), "-H", "127.0.0.1", "-p", str(port)], stdout=log,
                               stderr=subprocess.STDOUT)
    try:
        if not wait_for_port(port, timeout=30):
            unavailable("moto_server did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


@pytest.fixture()
def s3_env(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture()
def s3_storage(app_ctx, s3_endpoint, s3_env):
    """The app's storage switched to `s3://crm-files/portal` for one test, the bucket created."""
    import boto3

    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=BUCKET)
    storage = storage_from_url(f"s3://{BUCKET}/portal", s3_endpoint_url=s3_endpoint)
    previous = app_ctx.extensions.get("crm.storage")
    app_ctx.extensions["crm.storage"] = storage
    yield storage
    if previous is None:
        app_ctx.extensions.pop("crm.storage", None)
    else:
        app_ctx.extensions["crm.storage"] = previous


def _object_keys(storage: S3Storage) -> list[str]:
    listing = storage.client.list_objects_v2(Bucket=BUCKET)
    return [item["Key"] for item in listing.get("Contents", [])]


def test_stored_bytes_read_back_when_put_into_s3(s3_storage):
    key = s3_storage.put("appeals", b"%PDF-1.4 hello", ".pdf")

    assert key.startswith("appeals/") and key.endswith(".pdf")
    assert f"portal/{key}" in _object_keys(s3_storage)
    assert s3_storage.open(key).read() == b"%PDF-1.4 hello"


def test_file_object_is_stored_when_put_as_a_stream(s3_storage):
    key = s3_storage.put("exports", io.BytesIO(b"a;b\n1;2\n"), ".csv")

    assert s3_storage.open(key).read() == b"a;b\n1;2\n"


def test_missing_object_reads_as_storage_error_when_deleted(s3_storage):
    key = s3_storage.put("appeals", b"x", ".txt")
    s3_storage.delete(key)

    assert f"portal/{key}" not in _object_keys(s3_storage)
    with pytest.raises(StorageError):
        s3_storage.open(key)
    s3_storage.delete(key)  # deleting twice is not an error (jobs retry deletions)


def test_key_with_path_parts_is_refused_when_opened(s3_storage):
    for key in ("../secret", "/etc/passwd", "appeals//x", "appeals/../../x"):
        with pytest.raises(StorageError):
            s3_storage.open(key)


def test_attachment_is_stored_under_generated_key_when_uploaded_to_s3(s3_storage):
    from crm.services.appeal_attachments import open_attachment, store_upload

    upload = FileStorage(stream=io.BytesIO(b"%PDF-1.7\n%%EOF\n"), filename="Договор Иванова.pdf")
    meta = store_upload(upload)

    assert "Иванова" not in meta["storage_key"] and "Договор" not in meta["storage_key"]
    assert meta["filename"] == "Договор Иванова.pdf"

    class Row:
        storage_key = meta["storage_key"]

    assert open_attachment(Row()).read() == b"%PDF-1.7\n%%EOF\n"


def test_bucketless_url_is_refused_when_configured():
    with pytest.raises(StorageError):
        storage_from_url("s3:///prefix-only")


def test_sweep_removes_only_the_areas_objects_older_than_the_cutoff(s3_storage):
    from datetime import timedelta

    from crm import clock

    transient = [s3_storage.put("appeal_uploads", b"draft", ".pdf") for _ in range(3)]
    kept = s3_storage.put("appeals", b"sent", ".pdf")

    assert s3_storage.sweep("appeal_uploads", clock.now() - timedelta(hours=1)) == 0  # all still young
    assert s3_storage.sweep("appeal_uploads", clock.now() + timedelta(minutes=5)) == 3

    keys = _object_keys(s3_storage)
    assert f"portal/{kept}" in keys and not any(f"portal/{key}" in keys for key in transient)
