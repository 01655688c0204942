"""Transient uploads (wizard files, readings files awaiting confirmation) are swept by a periodic job
once nothing can refer to them; every other area is left alone (issue 8, nothing lost, nothing leaked)."""
from __future__ import annotations

import os
import time
from datetime import UTC, datetime

import pytest

from crm.storage import TRANSIENT_AREAS, StorageError, get_storage
from workflows import jobs
from workflows.schedule import PERIODIC_JOBS


def aged(key: str, hours: float) -> None:
    """Pretend the stored file was written `hours` ago."""
    path = get_storage().path(key)
    stamp = time.time() - hours * 3600
    os.utime(path, (stamp, stamp))


def exists(key: str) -> bool:
    try:
        get_storage().open(key).close()
    except StorageError:
        return False
    return True


def test_old_transient_files_go_and_young_ones_and_other_areas_stay(app_ctx):
    storage = get_storage()
    old_wizard = storage.put("appeal_uploads", b"%PDF-1.7", ".pdf")
    old_readings = storage.put("readings_uploads", b"PK", ".bin")
    young_wizard = storage.put("appeal_uploads", b"%PDF-1.7", ".pdf")
    old_attachment = storage.put("appeals", b"%PDF-1.7", ".pdf")  # an appeal's own copy: never swept
    for key in (old_wizard, old_readings, old_attachment):
        aged(key, 49)
    aged(young_wizard, 47)

    assert jobs.sweep_transient_uploads_job() == 2

    assert not exists(old_wizard) and not exists(old_readings)
    assert exists(young_wizard) and exists(old_attachment)
    assert jobs.sweep_transient_uploads_job() == 0  # nothing more to do


def test_the_swept_areas_are_the_ones_the_portal_writes_to():
    from customer_portal.appeal_wizard import UPLOAD_AREA
    from customer_portal.readings_files import STORAGE_AREA

    assert set(TRANSIENT_AREAS) == {UPLOAD_AREA, STORAGE_AREA}


def test_a_bad_area_name_is_refused(app_ctx):
    with pytest.raises(StorageError):
        get_storage().sweep("../appeals", datetime.now(UTC))  # validated before anything is listed


def test_the_sweep_runs_periodically():
    assert any(job is jobs.sweep_transient_uploads_job for job, _interval in PERIODIC_JOBS)
