"""Portal section: notifications (filled in by its issue's work)."""
from __future__ import annotations
