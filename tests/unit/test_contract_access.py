"""The C6 permission matrix, cell by cell (SPEC C6, seed 004 §13.2.1 table 3)."""
from __future__ import annotations

import pytest

from crm.access import MATRIX, Capability, role_can

E, B, M, A = "power_engineer", "accountant", "manager", "administrator"

#: capability → (power engineer, accountant, manager, administrator), exactly as the SPEC's table
SPEC_TABLE = {
    Capability.REQUEST_ADMIN_ROLE: (True, True, True, True),
    Capability.REMOVE_CONTRACT: (True, True, True, True),
    Capability.VIEW_CONTRACT: (True, True, True, True),
    Capability.SUBMIT_READINGS: (True, False, True, True),
    Capability.VIEW_READINGS: (True, False, True, True),
    Capability.VIEW_FINANCE: (False, True, True, True),
    Capability.PAY: (False, True, True, True),
    Capability.MANAGE_ROLES: (False, False, False, True),
    # Not in the SPEC's table; decided in crm/access.py: the roles acting for the whole contract.
    Capability.EDIT_CONTACT_PERSONS: (False, False, True, True),
    # Not in the SPEC's table either; decided in crm/services/appeal_portal.py: the roles acting for the whole
    # contract see every appeal of it, the others only their own.
    Capability.VIEW_CONTRACT_APPEALS: (False, False, True, True),
}

CELLS = [pytest.param(capability, role, allowed, id=f"{capability.value}-{role}")
         for capability, row in SPEC_TABLE.items() for role, allowed in zip((E, B, M, A), row, strict=True)]


@pytest.mark.parametrize(("capability", "role", "allowed"), CELLS)
def test_role_has_capability_exactly_when_the_spec_table_says(capability, role, allowed):
    assert role_can(role, capability) is allowed


def test_every_capability_of_the_matrix_is_checked_against_the_table():
    assert set(MATRIX) == set(SPEC_TABLE)


@pytest.mark.parametrize("role", ["", "owner", "Administrator", None])
def test_unknown_role_has_no_capability_when_asked(role):
    assert not any(role_can(role, capability) for capability in Capability)
