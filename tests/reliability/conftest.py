"""Fixtures of the reliability suites (docs/reliability.md)."""
from __future__ import annotations

import pytest

from tests.reliability.support import postgres_url


@pytest.fixture()
def pg_app(request):
    """The session's test app, on PostgreSQL only: without TEST_DATABASE_URL=postgresql… the test skips (fails
    with CI=true) before the app is built on SQLite for nothing."""
    postgres_url()
    return request.getfixturevalue("app")
