"""The schema is owned by the migrations and enforces the contract-access rules itself."""
from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy.exc import IntegrityError

from tests import factories as f
from tests.services import ROOT


def test_migrations_match_models_with_no_drift(app, database_url):
    """`flask db check` finds nothing to autogenerate against a database at head."""
    env = {"CRM_CONFIG": "dev", "DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "db", "check"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No new upgrade operations detected" in result.stdout + result.stderr


def test_upgrade_builds_every_model_table(db):
    from sqlalchemy import inspect

    tables = set(inspect(db.engine).get_table_names())
    assert set(db.metadata.tables) <= tables


def test_second_administrator_on_a_contract_is_rejected_by_the_database(db):
    contract = f.contract()
    first, second = f.user(), f.user()
    f.grant(first, contract, "administrator")
    db.session.commit()
    with pytest.raises(IntegrityError):
        f.grant(second, contract, "administrator")
    db.session.rollback()


def test_administrators_of_different_contracts_coexist(db):
    a, b = f.contract(), f.contract()
    admin = f.user()
    f.grant(admin, a, "administrator")
    f.grant(admin, b, "administrator")
    db.session.commit()


def test_second_role_for_same_user_and_contract_is_rejected_by_the_database(db):
    contract = f.contract()
    person = f.user()
    f.grant(person, contract, "manager")
    db.session.commit()
    with pytest.raises(IntegrityError):
        f.grant(person, contract, "accountant")
    db.session.rollback()


def test_contract_number_is_unique(db):
    f.contract(number="77000000009999")
    db.session.commit()
    with pytest.raises(IntegrityError):
        f.contract(number="77000000009999")
    db.session.rollback()


def test_deleting_a_contract_removes_its_access_rows(db):
    from crm.models import Contract, ContractAccess

    contract = f.contract()
    f.grant(f.user(), contract, "manager")
    db.session.commit()
    db.session.execute(Contract.__table__.delete().where(Contract.id == contract.id))
    db.session.commit()
    assert db.session.query(ContractAccess).count() == 0


def test_timestamps_come_back_timezone_aware(db):
    from crm.models import Branch

    branch = f.branch()
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Branch, branch.id).created_at.tzinfo is not None
