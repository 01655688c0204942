"""Hypothesis profiles for the property tests (issue 8 item 6: bad input at scale).

The default profile keeps `pytest tests/property` short and reproducible in CI: a modest number of
examples per form or API operation, no deadline (the shared machine is noisy) and a derandomized
search, so a failure found once is found again. A deeper run:

    HYPOTHESIS_PROFILE=thorough .venv/bin/pytest -q tests/property

`PROPERTY_EXAMPLES=<n>` overrides the example count of either profile.
"""
from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

_COMMON = {
    "deadline": None,
    "derandomize": True,
    "database": None,
    "print_blob": True,
    # The tests share one signed-in world per test (built by function-scoped fixtures) across
    # examples on purpose: every example compares row counts before and after its own request.
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                              HealthCheck.data_too_large, HealthCheck.filter_too_much],
    # No shrinking by default: a failing example is reported as found (shrinking replays HTTP requests).
    "phases": [Phase.explicit, Phase.reuse, Phase.generate, Phase.target],
}
# 10 per form (about 70 routes) and 4 per API operation and mode keep the directory near 90 s of CPU;
# the thorough profile runs 300 per form and 100 per API operation and mode.
settings.register_profile("default", max_examples=10, **_COMMON)
settings.register_profile("thorough", max_examples=300, **{**_COMMON, "phases": list(Phase)})
_profile = os.environ.get("HYPOTHESIS_PROFILE", "default")
if os.environ.get("PROPERTY_EXAMPLES"):
    settings.register_profile(f"{_profile}-n", settings.get_profile(_profile),
                              max_examples=int(os.environ["PROPERTY_EXAMPLES"]))
    _profile = f"{_profile}-n"
settings.load_profile(_profile)
