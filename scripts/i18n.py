"""Build the Russian catalog: extract every msgid from the code, fill it from the fragments.

Fragments (translations/fragments/*.po) are small hand-edited PO files, one per area of the
product, so parallel work never edits the same catalog. `python scripts/i18n.py` writes
translations/messages.pot and translations/ru/LC_MESSAGES/messages.po and lists msgids that
have no Russian translation yet (exit 1 with --check). `make translations` compiles the .mo.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "translations"
SOURCES = ["app.py", "config.py", "crm", "customer_portal", "workflows"]


def extract() -> Path:
    pot = TRANSLATIONS / "messages.pot"
    pybabel = str(Path(sys.executable).with_name("pybabel"))
    subprocess.run([pybabel, "-q", "extract", "-F", "babel.cfg",
                    "-k", "_l", "-k", "lazy_gettext", "--no-location", "--sort-output", "-o", str(pot),
                    *SOURCES], cwd=ROOT, check=True)
    return pot


def load_fragments() -> dict[str, str]:
    translations: dict[str, str] = {}
    for path in sorted((TRANSLATIONS / "fragments").glob("*.po")):
        with path.open("rb") as handle:
            for message in read_po(handle, locale="ru"):
                if message.id and message.string:
                    translations[message.id if isinstance(message.id, str) else message.id[0]] = message.string
    return translations


def build(check: bool = False) -> int:
    pot = extract()
    with pot.open("rb") as handle:
        catalog = read_po(handle, locale="ru")
    catalog.locale = "ru"
    known = load_fragments()
    missing = []
    for message in catalog:
        if not message.id:
            continue
        key = message.id if isinstance(message.id, str) else message.id[0]
        if key in known:
            message.string = known[key]
        else:
            missing.append(key)
    target = TRANSLATIONS / "ru" / "LC_MESSAGES" / "messages.po"
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as handle:
        write_po(handle, catalog, omit_header=False, sort_output=True, width=120)
    for msgid in missing:
        print(f"missing ru: {msgid!r}")
    return 1 if (check and missing) else 0


if __name__ == "__main__":
    sys.exit(build(check="--check" in sys.argv))
