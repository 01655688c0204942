"""The customer portal skeleton: sign-in, language, contract list, selector and card (issue Foundation).

Test data is built inside `data(app)` and committed before any request. Requests then run in
their own app context, as in production: a request made while the test holds an app context
(conftest's `db` fixture) would share `flask.g` and the SQLAlchemy session with the test, so
Flask-Login's cached user, Flask-Babel's cached locale and the identity map would leak between
requests and statement counts would come out too low.
"""
from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest

from crm import clock
from crm.extensions import db
from crm.models import Curator, PaymentTerm, Tariff
from tests import factories as f

WRONG_LOGIN_RU = "Неверный логин или пароль."


@contextmanager
def data(app):
    """Build test data in a short-lived app context and commit it."""
    with app.app_context():
        yield
        db.session.commit()


def _contract(**kw) -> SimpleNamespace:
    contract = f.contract(**kw)
    return SimpleNamespace(obj=contract, id=contract.id, number=contract.number,
                           counterparty=contract.counterparty.short_name, branch=contract.branch.name)


def _text(response) -> str:
    return response.get_data(as_text=True)


def _main(html: str) -> str:
    """The page's <main> element only (the navbar's contract selector also lists numbers)."""
    match = re.search(r"<main\b.*?</main>", html, re.S)
    assert match, "page has no <main>"
    return match.group(0)


def _selector(html: str) -> str:
    match = re.search(r'<ul class="list-unstyled mb-0 contract-selector-items".*?</ul>', html, re.S)
    return match.group(0) if match else ""


def _signed_in(app, login: str, password: str = f.PASSWORD):
    client = app.test_client()
    response = f.login(client, login, password)
    assert response.status_code == 302, _text(response)
    return client


def _selected_in_selector(html: str) -> str | None:
    match = re.search(r'<a class="dropdown-item[^"]*active"\s+href="([^"]+)"', html)
    return match.group(1) if match else None


# --- sign-in ---------------------------------------------------------------------------------

def test_sign_in_succeeds_when_email_and_password_are_right(app):
    with data(app):
        f.user("buyer@test.example")
    client = app.test_client()
    response = f.login(client, "buyer@test.example")
    assert response.status_code == 302
    assert response.headers["Location"] == "/portal/"
    assert client.get("/portal/contracts/").status_code == 200


def test_sign_in_succeeds_when_login_is_the_username_in_any_case(app):
    with data(app):
        f.user("inn-user@test.example", username="7701234567ab")
    assert f.login(app.test_client(), "7701234567ab").status_code == 302
    assert f.login(app.test_client(), "7701234567AB").status_code == 302


def test_sign_in_matches_email_ignoring_case_and_spaces(app):
    with data(app):
        f.user("Mixed.Case@test.example", username="mixed-login")
    assert f.login(app.test_client(), "  mixed.case@TEST.example ").status_code == 302


def test_sign_in_fails_with_400_and_russian_message_when_password_is_wrong(app):
    with data(app):
        f.user("buyer@test.example")
    client = app.test_client()
    response = f.login(client, "buyer@test.example", "Wrong2026pass")
    assert response.status_code == 400
    html = _text(response)
    assert WRONG_LOGIN_RU in html
    assert 'role="alert"' in html
    assert 'value="Wrong2026pass"' not in html
    assert client.get("/portal/contracts/").status_code == 302


def test_sign_in_fails_with_the_same_message_when_user_does_not_exist(app):
    response = f.login(app.test_client(), "nobody@test.example")
    assert response.status_code == 400
    assert WRONG_LOGIN_RU in _text(response)


@pytest.mark.parametrize("state", ["inactive", "deleted"])
def test_sign_in_is_refused_with_the_generic_message_when_account_is_not_usable(app, state):
    with data(app):
        person = f.user("gone@test.example")
        if state == "inactive":
            person.active = False
        else:
            person.deleted_at = clock.now()
    client = app.test_client()
    response = f.login(client, "gone@test.example")
    assert response.status_code == 400
    assert WRONG_LOGIN_RU in _text(response)
    assert client.get("/portal/contracts/").status_code == 302


def test_signed_in_user_is_signed_out_when_account_is_deactivated(app):
    with data(app):
        person = f.user("later-gone@test.example")
        user_id = person.id
    client = _signed_in(app, "later-gone@test.example")
    with data(app):
        db.session.get(type(person), user_id).active = False
    assert client.get("/portal/contracts/").status_code == 302


def test_empty_fields_are_reported_under_each_field_when_form_is_submitted_blank(app):
    response = app.test_client().post("/portal/login", data={"login": "", "password": ""})
    assert response.status_code == 400
    html = _text(response)
    assert "Введите электронную почту или логин." in html
    assert "Введите пароль." in html
    assert 'aria-describedby="login-error"' in html and 'id="login-error"' in html
    assert 'aria-describedby="password-error"' in html and 'id="password-error"' in html
    assert WRONG_LOGIN_RU not in html


def test_sign_in_page_has_labelled_fields_in_russian(client):
    html = _text(client.get("/portal/login"))
    for text in ("Электронная почта или логин", "Пароль", "Запомнить меня", "Войти"):
        assert text in html
    for name in ("login", "password", "remember_me"):
        assert f'name="{name}"' in html
    assert '<label class="form-label" for="login">' in html
    assert '<label class="form-label" for="password">' in html


def test_sign_in_goes_to_next_when_it_is_a_portal_path(app):
    with data(app):
        person = f.user("buyer@test.example")
        contract = _contract()
        f.grant(person, contract.obj, "manager")
    target = f"/portal/contracts/{contract.id}/"
    response = app.test_client().post("/portal/login", query_string={"next": target},
                                      data={"login": "buyer@test.example", "password": f.PASSWORD})
    assert response.headers["Location"] == target


@pytest.mark.parametrize("target", ["//evil.example/portal/", "http://evil.example/portal/", "/admin/",
                                    "/\\evil.example"])
def test_sign_in_ignores_next_when_it_leaves_the_portal(app, target):
    with data(app):
        f.user("buyer@test.example")
    response = app.test_client().post("/portal/login", query_string={"next": target},
                                      data={"login": "buyer@test.example", "password": f.PASSWORD})
    assert response.headers["Location"] == "/portal/"


def test_anonymous_visitor_is_sent_to_sign_in_and_back_when_opening_a_portal_page(app):
    with data(app):
        person = f.user("buyer@test.example")
        contract = _contract()
        f.grant(person, contract.obj, "manager")
    client = app.test_client()
    response = client.get(f"/portal/contracts/{contract.id}/")
    assert response.status_code == 302
    login_url = response.headers["Location"]
    assert login_url.startswith("/portal/login?next=")
    response = client.post(login_url, data={"login": "buyer@test.example", "password": f.PASSWORD})
    assert response.headers["Location"] == f"/portal/contracts/{contract.id}/"


def test_staff_user_signs_in_and_sees_the_empty_state_when_they_have_no_contracts(app):
    with data(app):
        f.user("curator@energo.example", username="curator1", roles=("Curator",))
    client = _signed_in(app, "curator1")
    response = client.get("/portal/")
    assert response.status_code == 200
    html = _text(response)
    assert "У вас пока нет договоров" in html
    assert "contract-selector-items" not in html


# --- sign-out --------------------------------------------------------------------------------

def test_sign_out_requires_post(app):
    with data(app):
        f.user("buyer@test.example")
    client = _signed_in(app, "buyer@test.example")
    assert client.get("/portal/logout").status_code == 405
    assert client.get("/portal/contracts/").status_code == 200


def test_sign_out_ends_the_session_even_when_remembered(app):
    with data(app):
        f.user("buyer@test.example")
    client = app.test_client()
    response = client.post("/portal/login", data={"login": "buyer@test.example", "password": f.PASSWORD,
                                                  "remember_me": "y"})
    assert response.status_code == 302
    assert client.get_cookie("remember_token") is not None
    response = client.post("/portal/logout")
    assert response.status_code == 302
    assert response.headers["Location"] == "/portal/login"
    assert client.get_cookie("remember_token") is None
    assert client.get("/portal/contracts/").status_code == 302
    assert "Вы вышли из личного кабинета." in _text(client.get("/portal/login"))


def test_sign_out_form_posts_with_a_csrf_token(app):
    with data(app):
        f.user("buyer@test.example")
    html = _text(_signed_in(app, "buyer@test.example").get("/portal/contracts/"))
    form = re.search(r'<form method="post" action="/portal/logout".*?</form>', html, re.S)
    assert form and 'name="csrf_token"' in form.group(0)


# --- language --------------------------------------------------------------------------------

def test_portal_is_russian_by_default_and_switches_to_english_and_back(app):
    with data(app):
        f.user("buyer@test.example")
    client = _signed_in(app, "buyer@test.example")
    html = _text(client.get("/portal/contracts/"))
    assert '<html lang="ru">' in html
    assert "Договоры" in html

    response = client.get("/portal/lang/en", query_string={"next": "/portal/contracts/"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/portal/contracts/"
    html = _text(client.get("/portal/contracts/"))
    assert '<html lang="en">' in html
    assert "Contracts" in html and "Договоры" not in html

    response = client.post("/portal/lang/ru", data={"next": "/portal/contracts/?x=1"})
    assert response.headers["Location"] == "/portal/contracts/?x=1"
    html = _text(client.get("/portal/contracts/"))
    assert '<html lang="ru">' in html and "Договоры" in html


def test_language_survives_sign_in_and_sign_out(app):
    with data(app):
        f.user("buyer@test.example")
    client = app.test_client()
    client.get("/portal/lang/en")
    assert "E-mail or login" in _text(client.get("/portal/login"))
    f.login(client, "buyer@test.example")
    assert "My contracts" in _text(client.get("/portal/contracts/"))
    client.post("/portal/logout")
    assert "E-mail or login" in _text(client.get("/portal/login"))


def test_language_links_return_to_the_current_page(app):
    with data(app):
        f.user("buyer@test.example")
    html = _text(_signed_in(app, "buyer@test.example").get("/portal/contracts/"))
    assert 'href="/portal/lang/en?next=/portal/contracts/"' in html


@pytest.mark.parametrize("target", ["//evil.example", "http://evil", "https://evil.example/portal/",
                                    "/\\evil.example", "javascript:alert(1)", "/admin/users/list/",
                                    "/portal/\r\nSet-Cookie: x=1"])
def test_language_switch_does_not_follow_next_when_it_leaves_the_portal(client, target):
    response = client.get("/portal/lang/en", query_string={"next": target})
    assert response.status_code == 302
    assert response.headers["Location"] == "/portal/"


def test_language_switch_is_404_when_language_is_unknown(client):
    assert client.get("/portal/lang/de").status_code == 404
    with client.session_transaction() as session:
        assert session.get("locale") != "de"


# --- contracts: list, selector, card ---------------------------------------------------------

def test_customer_sees_own_contracts_in_list_and_selector_but_never_another_counterpartys(app):
    with data(app):
        mine_a, mine_b, theirs = _contract(), _contract(kind="heat"), _contract()
        me, them = f.user("me@test.example"), f.user("them@test.example")
        f.grant(me, mine_a.obj, "manager")
        f.grant(me, mine_b.obj, "accountant")
        f.grant(them, theirs.obj, "administrator")
    client = _signed_in(app, "me@test.example")

    html = _text(client.get("/portal/contracts/"))
    main, selector = _main(html), _selector(html)
    for contract in (mine_a, mine_b):
        assert contract.number in main
        assert contract.number in selector
        assert f"/portal/contracts/{contract.id}/" in selector
        assert contract.counterparty in selector
    assert "Руководитель" in selector and "Бухгалтер" in selector
    assert theirs.number not in html and theirs.counterparty not in html
    assert "Руководитель" in main and "Бухгалтер" in main
    assert "Электроэнергия" in main and "Теплоснабжение" in main
    assert "Действующий" in main
    assert mine_a.branch in main

    assert client.get(f"/portal/contracts/{theirs.id}/").status_code == 404
    card = _text(client.get(f"/portal/contracts/{mine_b.id}/"))
    assert theirs.number not in card


def test_home_opens_the_card_when_the_user_has_exactly_one_contract(app):
    with data(app):
        contract = _contract()
        f.grant(f.user("one@test.example"), contract.obj, "manager")
    response = _signed_in(app, "one@test.example").get("/portal/")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/portal/contracts/{contract.id}/"


def test_home_lists_contracts_when_the_user_has_several(app):
    with data(app):
        person = f.user("two@test.example")
        first, second = _contract(), _contract()
        f.grant(person, first.obj, "manager")
        f.grant(person, second.obj, "manager")
    response = _signed_in(app, "two@test.example").get("/portal/")
    assert response.status_code == 200
    main = _main(_text(response))
    assert first.number in main and second.number in main


def test_selector_marks_the_open_contract_and_keeps_it_on_other_pages(app):
    with data(app):
        person = f.user("two@test.example")
        first, second = _contract(), _contract()
        f.grant(person, first.obj, "manager")
        f.grant(person, second.obj, "manager")
    client = _signed_in(app, "two@test.example")
    assert _selected_in_selector(_text(client.get("/portal/contracts/"))) == f"/portal/contracts/{first.id}/"
    assert _selected_in_selector(_text(client.get(f"/portal/contracts/{second.id}/"))) == \
        f"/portal/contracts/{second.id}/"
    assert _selected_in_selector(_text(client.get("/portal/contracts/"))) == f"/portal/contracts/{second.id}/"


def test_selector_lists_only_the_contracts_the_user_chose_to_keep_plus_the_open_one(app):
    with data(app):
        person = f.user("picky@test.example")
        kept, hidden = _contract(), _contract()
        f.grant(person, kept.obj, "manager")
        f.grant(person, hidden.obj, "manager")
        person.selector_contract_ids = [kept.id]
    client = _signed_in(app, "picky@test.example")
    selector = _selector(_text(client.get(f"/portal/contracts/{kept.id}/")))
    assert kept.number in selector and hidden.number not in selector
    selector = _selector(_text(client.get(f"/portal/contracts/{hidden.id}/")))
    assert hidden.number in selector


def test_card_shows_details_requisites_terms_contacts_and_meters(app):
    with data(app):
        branch = f.branch(name="Северный филиал", address="г. Москва, ул. Северная, 1", phone="+7 495 111-11-11",
                          head_name="Орлов Пётр Ильич", working_hours="пн–пт 9:00–18:00")
        counterparty = f.counterparty(kpp="770101001", ogrn="1027700132195", okpo="12345678",
                                      legal_address="г. Москва, ул. Ленина, 1", bank_name="ПАО Сбербанк",
                                      bank_bik="044525225", bank_account="40702810938000000001",
                                      bank_corr_account="30101810400000000225")
        tariff = Tariff(group_code="G1", name="Одноставочный", rate=Decimal("5.12345"), unit="кВт·ч",
                        valid_from=date(2024, 1, 1))
        db.session.add(tariff)
        contract = f.contract(counterparty, branch, price_category="III", tariff=tariff, ends_on=date(2025, 12, 31),
                              account_number="1234567890")
        contract.curators.append(Curator(branch=branch, full_name="Смирнова Анна Викторовна",
                                         phone="+7 495 000-00-00", email="smirnova@energo.example"))
        contract.payment_terms.append(PaymentTerm(kind="advance", day_of_month=10, percent=Decimal("30")))
        contract.payment_terms.append(PaymentTerm(kind="final", day_of_month=18, month_offset=1))
        obj = f.energy_object(contract, name="Цех № 1", code="EO-0001")
        meter = f.meter(obj, zones=("day", "night"), serial="SN-CARD-1", verification_date=date(2020, 3, 15))
        meter.metering_point.transformation_ratio = Decimal("40")
        meter.metering_point.losses_percent = Decimal("1.5")
        f.grant(f.user("card@test.example"), contract, "power_engineer")
        contract_id, number = contract.id, contract.number
        full_name, inn = counterparty.full_name, counterparty.inn

    response = _signed_in(app, "card@test.example").get(f"/portal/contracts/{contract_id}/")
    assert response.status_code == 200
    main = _main(_text(response))
    expected = [
        f"Договор № {number}", "1234567890", "01.01.2023", "31.12.2025", "Электроэнергия", "Действующий", "III",
        full_name, inn, "770101001", "1027700132195", "12345678", "г. Москва, ул. Ленина, 1",
        "ПАО Сбербанк", "044525225", "40702810938000000001", "30101810400000000225",
        "Энергетик", "30% договорного объёма", "до 10 числа расчётного месяца",
        "до 18 числа месяца, следующего за расчётным", "Одноставочный", "5,12345 ₽ за кВт·ч", "01.01.2024",
        "Смирнова Анна Викторовна", "smirnova@energo.example", "tel:+74950000000",
        "Северный филиал", "г. Москва, ул. Северная, 1", "Орлов Пётр Ильич", "пн–пт 9:00–18:00",
        "Цех № 1", "EO-0001", "SN-CARD-1", "Меркурий 230", "День", "Ночь", "A+", "целых: 6, дробных: 2",
        "15.03.2020", "1,5 %", "Ожидает показаний",
    ]
    for text in expected:
        assert text in main, text
    assert re.search(r"Расчётный коэффициент</dt>\s*<dd>40</dd>", main)
    assert 'data-bs-toggle="collapse"' in main


def test_power_engineer_sees_only_the_objects_in_scope_on_the_card(app):
    with data(app):
        contract = _contract()
        inside = f.energy_object(contract.obj, name="Котельная Северная")
        outside = f.energy_object(contract.obj, name="Склад Южный")
        f.meter(inside, serial="SN-INSIDE")
        f.meter(outside, serial="SN-OUTSIDE")
        f.grant(f.user("engineer@test.example"), contract.obj, "power_engineer", objects=[inside])
        f.grant(f.user("manager@test.example"), contract.obj, "manager")

    html = _text(_signed_in(app, "engineer@test.example").get(f"/portal/contracts/{contract.id}/"))
    assert "Котельная Северная" in html and "SN-INSIDE" in html
    assert "Склад Южный" not in html and "SN-OUTSIDE" not in html
    assert "Показаны только объекты договора, доступные вам." in html

    html = _text(_signed_in(app, "manager@test.example").get(f"/portal/contracts/{contract.id}/"))
    assert "Котельная Северная" in html and "Склад Южный" in html


def test_card_is_404_when_contract_does_not_exist(app):
    with data(app):
        f.user("buyer@test.example")
    response = _signed_in(app, "buyer@test.example").get("/portal/contracts/999999/")
    assert response.status_code == 404
    assert "Страница не найдена" in _text(response)


def test_menu_lists_the_contracts_section_and_marks_the_current_page(app):
    with data(app):
        f.user("buyer@test.example")
    html = _text(_signed_in(app, "buyer@test.example").get("/portal/contracts/"))
    nav = re.search(r'<ul class="nav flex-column side-nav">.*?</ul>', html, re.S).group(0)
    assert 'href="/portal/contracts/"' in nav
    assert 'aria-current="page"' in nav
    assert "Договоры" in nav


def test_menu_entry_follows_the_role_matrix_and_its_enabled_flag():
    from crm.access import Capability, ContractGrant
    from crm.models import ContractRole
    from customer_portal.navigation import MENU, MenuItem

    pay = MenuItem("pay", "Pay", "portal.contract_list", icon="x", capability=Capability.PAY, contract_scoped=True)
    engineer = ContractGrant(contract=None, role=ContractRole.POWER_ENGINEER, object_ids=None)
    accountant = ContractGrant(contract=None, role=ContractRole.ACCOUNTANT, object_ids=None)
    assert not pay.visible_for(engineer)
    assert pay.visible_for(accountant)
    assert not pay.visible_for(None)
    assert not MenuItem("off", "Off", "portal.contract_list", icon="x", enabled=False).visible_for(accountant)
    contracts = next(item for item in MENU if item.key == "contracts")
    assert contracts.visible_for(None) and contracts.visible_for(engineer)


# --- page structure --------------------------------------------------------------------------

def test_pages_load_assets_from_the_portal_itself_with_no_inline_scripts(app):
    with data(app):
        f.user("buyer@test.example")
    client = _signed_in(app, "buyer@test.example")
    anonymous = app.test_client()
    for page_client, path in ((client, "/portal/contracts/"), (anonymous, "/portal/login")):
        response = page_client.get(path)
        html = _text(response)
        sources = re.findall(r'(?:src|href)="([^"]+\.(?:css|js|svg))"', html)
        assert len(sources) >= 5 and all(s.startswith("/portal/static/") for s in sources), sources
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline script"
        assert " style=" not in html and " on" + "click=" not in html
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    for asset in ("vendor/bootstrap/css/bootstrap.min.css", "vendor/bootstrap/js/bootstrap.bundle.min.js",
                  "vendor/chartjs/chart.umd.min.js", "vendor/bootstrap-icons/bootstrap-icons.min.css",
                  "vendor/bootstrap-icons/fonts/bootstrap-icons.woff2", "portal.css", "portal.js", "favicon.svg"):
        response = client.get(f"/portal/static/{asset}")
        assert response.status_code == 200, asset
        response.close()


def test_every_page_has_a_skip_link_main_landmark_and_labelled_navigation(app):
    with data(app):
        f.user("buyer@test.example")
    client = _signed_in(app, "buyer@test.example")
    for path in ("/portal/contracts/", "/portal/contracts/424242/"):
        html = _text(client.get(path))
        assert 'href="#main"' in html and '<main id="main"' in html
        assert '<nav aria-label="Разделы"' in html
        assert 'aria-label="Язык"' in html


# --- SQL statements per page -----------------------------------------------------------------

def _count_statements(query_counter, client, path: str) -> int:
    client.get(path)  # warm up (first request of a client, statement caches)
    with query_counter() as counter:
        response = client.get(path)
    assert response.status_code == 200, path
    return counter.count


def test_card_issues_the_same_number_of_statements_for_1_or_20_meters(app, query_counter):
    with data(app):
        person = f.user("big@test.example")
        small, big = _contract(), _contract()
        f.meter(f.energy_object(small.obj))
        for _ in range(5):
            obj = f.energy_object(big.obj)
            for _ in range(4):
                f.meter(obj, zones=("day", "night"))
        for contract in (small.obj, big.obj):
            f.grant(person, contract, "manager")
            contract.curators.extend([f.curator(contract.branch), f.curator(contract.branch, full_name="Иванов И.")])
            contract.payment_terms.append(PaymentTerm(kind="final", day_of_month=18, month_offset=1))
    client = _signed_in(app, "big@test.example")
    small_count = _count_statements(query_counter, client, f"/portal/contracts/{small.id}/")
    big_count = _count_statements(query_counter, client, f"/portal/contracts/{big.id}/")
    assert big_count == small_count
    assert small_count <= 25


def test_list_issues_the_same_number_of_statements_for_1_or_8_contracts(app, query_counter):
    with data(app):
        few, many = f.user("few@test.example"), f.user("many@test.example")
        f.grant(few, f.contract(), "manager")
        for index in range(8):
            f.grant(many, f.contract(kind="heat" if index % 2 else "electricity"), "accountant")
    few_count = _count_statements(query_counter, _signed_in(app, "few@test.example"), "/portal/contracts/")
    many_count = _count_statements(query_counter, _signed_in(app, "many@test.example"), "/portal/contracts/")
    assert many_count == few_count
    assert few_count <= 12


def test_sign_in_is_throttled_when_attempts_exceed_the_auth_rate_limit(app, database_url):
    from app import create_app

    limited = create_app({"CRM_CONFIG": "test", "SQLALCHEMY_DATABASE_URI": database_url,
                          "RATELIMIT_ENABLED": True, "AUTH_RATE_LIMIT": "3 per minute"})
    client = limited.test_client()
    statuses = [client.post("/portal/login", data={"login": "x@test.example", "password": "bad"}).status_code
                for _ in range(4)]
    assert statuses == [400, 400, 400, 429]
    response = client.post("/portal/login", data={"login": "x@test.example", "password": "bad"})
    assert "Слишком много попыток входа" in _text(response)
    assert client.get("/portal/login").status_code == 200
