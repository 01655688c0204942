"""Password policy (SPEC C2) and the bundled common-password list."""
from __future__ import annotations

import pytest
from flask import Flask
from flask_babel import Babel, force_locale

from crm.services.passwords import WeakPasswordError, check_password_policy, password_problems


@pytest.fixture(scope="module")
def ctx():
    app = Flask(__name__)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(__import__("pathlib").Path(__file__).resolve()
                                                      .parents[2] / "translations")
    Babel(app)
    with app.test_request_context():
        yield


def test_common_password_is_rejected_even_when_it_meets_every_rule(ctx):
    with pytest.raises(WeakPasswordError) as error:
        check_password_policy("Password123")
    assert any("common" in problem for problem in error.value.problems)


def test_every_broken_rule_is_listed(ctx):
    problems = password_problems("пар 1")
    assert len(problems) >= 4  # length, spaces, upper case, lower (Latin) case


def test_good_password_passes(ctx):
    check_password_policy("Brand5NewPass")


def test_policy_messages_are_russian(ctx):
    with force_locale("ru"):
        problems = password_problems("abc")
    assert "Пароль должен быть не короче 8 символов." in problems
    assert "Пароль должен содержать заглавную латинскую букву." in problems
    assert "Пароль должен содержать цифру." in problems
