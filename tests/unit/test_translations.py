"""Every user-facing string has a Russian translation (the default UI language)."""
from __future__ import annotations

import subprocess
import sys

from tests.services import ROOT


def test_every_msgid_has_a_russian_translation_when_catalog_is_built():
    result = subprocess.run([sys.executable, "scripts/i18n.py", "--check"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, "strings without Russian translation:\n" + result.stdout + result.stderr
