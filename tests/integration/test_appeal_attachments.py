"""Attachment checks (issue 6 acceptance 2): each refusal says why in Russian; names never become keys."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from werkzeug.datastructures import FileStorage

from crm.services import appeal_attachments as attachments
from crm.services.appeal_attachments import MAX_ATTACHMENT_BYTES, AttachmentError
from crm.storage import get_storage

PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def upload(data: bytes, name: str) -> FileStorage:
    return FileStorage(stream=io.BytesIO(data), filename=name)


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _refusal(data: bytes, name: str) -> str:
    with pytest.raises(AttachmentError) as caught:
        attachments.store_upload(upload(data, name))
    return caught.value.message


def _stored_files() -> set[Path]:
    """Every file in the test session's storage directory (shared by the session's tests)."""
    root = get_storage().root
    return {path for path in root.rglob("*") if path.is_file()}


def test_oversize_file_is_refused_when_above_10_mb(app_ctx):
    message = _refusal(PDF + b"0" * MAX_ATTACHMENT_BYTES, "скан.pdf")

    assert message == "Файл «скан.pdf» больше 10 МБ."


def test_file_of_exactly_10_mb_is_accepted_when_at_the_limit(app_ctx):
    meta = attachments.store_upload(upload(PDF + b"0" * (MAX_ATTACHMENT_BYTES - len(PDF)), "скан.pdf"))

    assert meta["size"] == MAX_ATTACHMENT_BYTES


@pytest.mark.parametrize("program", [b"MZ\x90\x00\x03" + b"\x00" * 60, b"\x7fELF\x02\x01\x01" + b"\x00" * 60,
                                     b"#!/bin/sh\nrm -rf /\n"])
def test_executable_renamed_pdf_is_refused_when_uploaded(app_ctx, program):
    message = _refusal(program, "договор.pdf")

    assert message == ("Файл «договор.pdf» — это программа, а не документ; программы прикладывать нельзя, "
                       "как бы они ни назывались.")


@pytest.mark.parametrize("name", ["../../etc/passwd.pdf", "..\\..\\boot.pdf", "/tmp/x.pdf", "a/../b.pdf",
                                  "dir/scan.pdf"])
def test_name_with_path_parts_is_refused_when_uploaded(app_ctx, name):
    before = _stored_files()
    message = _refusal(PDF, name)

    assert message.startswith("Имя файла «")
    assert "содержит путь (/, \\ или ..); переименуйте файл и приложите его снова." in message
    assert _stored_files() == before


def test_empty_file_is_refused_when_zero_bytes(app_ctx):
    assert _refusal(b"", "пустой.pdf") == "Файл «пустой.pdf» пустой (0 байт)."


def test_content_not_matching_extension_is_refused_when_a_png_is_named_pdf(app_ctx):
    assert _refusal(PNG, "scan.pdf") == "Содержимое файла «scan.pdf» не соответствует его расширению (это файл PNG)."


@pytest.mark.parametrize("data,name", [
    (_zip({"a.txt": b"hello"}), "archive.zip"),
    (_zip({"a.txt": b"hello"}), "renamed.docx"),
    (b"\x00\x01\x02binary", "notes.txt"),
    (b"<html><script>alert(1)</script>", "page.html"),
])
def test_unaccepted_type_is_refused_when_uploaded(app_ctx, data, name):
    assert _refusal(data, name).startswith(f"Тип файла «{name}» не допускается.")


@pytest.mark.parametrize("data,name,content_type", [
    (PDF, "Акт сверки.PDF", "application/pdf"),
    (PNG, "фото.png", "image/png"),
    (b"\xff\xd8\xff\xe0" + b"\x00" * 32, "photo.jpeg", "image/jpeg"),
    (_zip({"[Content_Types].xml": b"<x/>", "word/document.xml": b"<w/>"}), "письмо.docx",
     "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    (_zip({"mimetype": b"application/vnd.oasis.opendocument.text"}), "текст.odt",
     "application/vnd.oasis.opendocument.text"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "old.xls", "application/vnd.ms-excel"),
    ("Показания;кВт·ч\n1;2\n".encode("cp1251"), "показания.csv", "text/csv"),
    ("Добрый день".encode(), "note.txt", "text/plain"),
])
def test_accepted_type_is_stored_when_content_matches(app_ctx, data, name, content_type):
    meta = attachments.store_upload(upload(data, name))

    assert meta["content_type"] == content_type and meta["filename"] == name
    with get_storage().open(meta["storage_key"]) as stored:
        assert stored.read() == data


def test_stored_key_never_contains_the_users_name_when_stored(app_ctx):
    meta = attachments.store_upload(upload(PDF, "Паспорт Иванова; rm -rf.pdf"))

    key = meta["storage_key"]
    assert key.startswith("appeals/") and key.endswith(".pdf")
    assert "Иванова" not in key and "rm" not in key and " " not in key
    assert meta["filename"] == "Паспорт Иванова; rm -rf.pdf"


def test_nothing_is_stored_when_one_of_several_files_is_bad(app_ctx):
    files = [upload(PDF, "a.pdf"), upload(PNG, "b.png"), upload(b"", "c.pdf")]
    before = _stored_files()

    with pytest.raises(AttachmentError):
        attachments.store_uploads(files)

    assert _stored_files() == before


def test_image_preview_is_offered_when_the_attachment_is_an_image(app_ctx):
    class Row:
        content_type = "image/png"

    assert attachments.is_image(Row())
    Row.content_type = "application/pdf"
    assert not attachments.is_image(Row())
