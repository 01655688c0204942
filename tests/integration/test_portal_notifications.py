"""The portal's notifications and news (SPEC C16, issue 7 item 3, acceptance 1 and 2): the list order, folding,
attachments for recipients only, confirm / close / read on one's own deliveries only, the display window with a
controllable clock, and a bell that costs the same number of statements with 1 or 30 notifications.

Deliveries are created directly (as the fan-out would), so these tests do not depend on the audience rules.
"""
from __future__ import annotations

import html as html_lib
import re
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest

from crm import clock
from crm.extensions import db
from crm.models import News, NewsRead, NotificationAttachment, NotificationDelivery
from crm.storage import get_storage
from tests import factories as f

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _frozen_clock():
    clock.set_now(NOW)
    yield
    clock.set_now(None)


@contextmanager
def data(app):
    with app.app_context():
        yield
        db.session.commit()


def _customer(email: str, branch=None):
    person = f.user(email)
    f.grant(person, f.contract(branch_=branch), "manager")
    return person


def _main(response) -> str:
    body = response.get_data(as_text=True)
    match = re.search(r"<main\b.*?</main>", body, re.S)
    return match.group(0) if match else body


def _text(fragment: str) -> str:
    return re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", " ", fragment))).strip()


def _list_subjects(response) -> list[str]:
    main = _main(response)
    listing = main[main.index('id="inbox-list"'):] if 'id="inbox-list"' in main else ""
    return [_text(s) for s in re.findall(r'<h2 class="h6 mb-0 inbox-subject">(.*?)</h2>', listing, re.S)]


def _signed_in(app, email):
    client = app.test_client()
    assert f.login(client, email).status_code == 302
    return client


def _state(delivery_id: int) -> NotificationDelivery:
    db.session.expire_all()
    return db.session.get(NotificationDelivery, delivery_id)


def test_list_shows_unread_first_then_read_each_newest_first_when_mixed(app):
    with data(app):
        me = _customer("me@inbox.example")
        f.delivery(me, "Старое непрочитанное", delivered_at=NOW - timedelta(days=5))
        f.delivery(me, "Новое прочитанное", delivered_at=NOW - timedelta(days=1), read_at=NOW)
        f.delivery(me, "Новое непрочитанное", delivered_at=NOW - timedelta(days=2))
        f.delivery(me, "Старое прочитанное", delivered_at=NOW - timedelta(days=9), read_at=NOW)
    response = _signed_in(app, "me@inbox.example").get("/portal/notifications")
    assert response.status_code == 200
    assert _list_subjects(response) == ["Новое непрочитанное", "Старое непрочитанное", "Новое прочитанное",
                                        "Старое прочитанное"]


def test_list_and_bell_show_only_own_notifications_when_another_user_has_some(app):
    with data(app):
        me, other = _customer("me@inbox.example"), _customer("other@inbox.example")
        f.delivery(me, "Моё уведомление")
        f.delivery(other, "Чужое уведомление")
    response = _signed_in(app, "me@inbox.example").get("/portal/notifications")
    assert _list_subjects(response) == ["Моё уведомление"]
    assert 'data-bell-count aria-hidden="true">1<' in response.get_data(as_text=True)


def test_long_text_is_folded_with_more_and_short_text_is_not_when_listed(app):
    with data(app):
        me = _customer("me@inbox.example")
        long_id = f.delivery(me, "Длинное", body="Очень подробный текст уведомления. " * 20).id
        short_id = f.delivery(me, "Короткое", body="Коротко.").id
    main = _main(_signed_in(app, "me@inbox.example").get("/portal/notifications"))
    assert f'id="body-{long_id}" data-fold="true"' in main
    assert f'id="body-{short_id}">' in main
    assert main.count("inbox-fold-toggle") == 1
    assert 'data-more="more" data-hide="hide"' in main or 'data-more="Подробнее" data-hide="Скрыть"' in main


def test_markdown_body_is_rendered_without_script_when_listed(app):
    with data(app):
        me = _customer("me@inbox.example")
        f.delivery(me, "Разметка", body="**Важно** <script>alert(1)</script> [ссылка](javascript:alert(1))")
    main = _main(_signed_in(app, "me@inbox.example").get("/portal/notifications"))
    assert "<strong>Важно</strong>" in main
    assert "<script>alert" not in main and "javascript:" not in main


def test_attachment_downloads_for_recipient_and_is_404_for_another_user_when_requested(app):
    with data(app):
        me = _customer("me@inbox.example")
        _customer("other@inbox.example")
        delivery = f.delivery(me, "С вложением")
        key = get_storage().put("notifications", b"%PDF-1.4 test", ".pdf")
        attachment = NotificationAttachment(notification_id=delivery.notification_id, filename="Описание.pdf",
                                            content_type="application/pdf", size=13, storage_key=key)
        db.session.add(attachment)
        db.session.flush()
        attachment_id = attachment.id
    mine = _signed_in(app, "me@inbox.example")
    assert f"/portal/notifications/attachments/{attachment_id}" in _main(mine.get("/portal/notifications"))
    response = mine.get(f"/portal/notifications/attachments/{attachment_id}")
    assert response.status_code == 200 and response.data == b"%PDF-1.4 test"
    assert "attachment" in response.headers["Content-Disposition"]
    assert _signed_in(app, "other@inbox.example").get(
        f"/portal/notifications/attachments/{attachment_id}").status_code == 404


def test_read_confirm_and_dismiss_change_nothing_when_delivery_is_another_users(app):
    with data(app):
        _customer("me@inbox.example")
        other = _customer("other@inbox.example")
        bell = f.delivery(other, "Колокольчик").id
        modal = f.delivery(other, "Окно", kind="modal").id
        banner = f.delivery(other, "Баннер", kind="banner").id
    client = _signed_in(app, "me@inbox.example")
    assert client.post(f"/portal/notifications/{bell}/read").status_code == 404
    assert client.post(f"/portal/notifications/{modal}/confirm").status_code == 404
    assert client.post(f"/portal/notifications/{banner}/dismiss").status_code == 404
    with app.app_context():
        assert _state(bell).read_at is None
        assert _state(modal).confirmed_at is None and _state(modal).read_at is None
        assert _state(banner).dismissed_at is None


def test_mark_read_keeps_the_first_time_when_repeated(app):
    with data(app):
        me = _customer("me@inbox.example")
        delivery_id = f.delivery(me, "Прочитать").id
    client = _signed_in(app, "me@inbox.example")
    response = client.post(f"/portal/notifications/{delivery_id}/read", headers={"Accept": "application/json"})
    assert response.status_code == 200 and response.get_json() == {"ok": True, "bell": 0, "goto": None}
    clock.advance(timedelta(hours=1))
    assert client.post(f"/portal/notifications/{delivery_id}/read").status_code == 302
    with app.app_context():
        assert _state(delivery_id).read_at == NOW


def test_modal_moves_to_the_read_list_when_confirmed_after_sign_in(app):
    with data(app):
        me = _customer("me@inbox.example")
        first = f.delivery(me, "Первое окно", kind="modal", delivered_at=NOW - timedelta(hours=2),
                           confirm_text="Ознакомлен").id
        f.delivery(me, "Второе окно", kind="modal", delivered_at=NOW - timedelta(hours=1))
    client = _signed_in(app, "me@inbox.example")
    page = client.get("/portal/contracts/").get_data(as_text=True)
    assert 'data-inbox-modal' in page and "Первое окно" in page and "Второе окно" in page
    assert re.search(r"data-counter[^>]*>\s*1 (of|из) 2\s*<", page)
    assert "Ознакомлен" in page
    response = client.post(f"/portal/notifications/{first}/confirm", headers={"Accept": "application/json"})
    assert response.get_json()["ok"] is True
    page = client.get("/portal/contracts/").get_data(as_text=True)
    assert "Первое окно" not in page.split('id="inbox-modal"')[1] and "Второе окно" in page
    assert not re.search(r"data-counter[^>]*>\s*1 (of|из) 2", page)
    listing = client.get("/portal/notifications")
    assert _list_subjects(listing) == ["Второе окно", "Первое окно"]
    with app.app_context():
        assert _state(first).confirmed_at == NOW and _state(first).read_at == NOW


def test_go_to_confirms_and_redirects_to_the_link_when_pressed(app):
    with data(app):
        me = _customer("me@inbox.example")
        delivery_id = f.delivery(me, "С переходом", kind="modal", goto_url="/portal/profile/").id
    response = _signed_in(app, "me@inbox.example").post(f"/portal/notifications/{delivery_id}/confirm",
                                                        data={"go": "1"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/portal/profile/")
    with app.app_context():
        assert _state(delivery_id).confirmed_at == NOW


def test_confirm_is_refused_with_a_message_when_notification_is_not_a_modal(app):
    with data(app):
        me = _customer("me@inbox.example")
        delivery_id = f.delivery(me, "Обычное").id
    client = _signed_in(app, "me@inbox.example")
    response = client.post(f"/portal/notifications/{delivery_id}/confirm", headers={"Accept": "application/json"})
    assert response.status_code == 400 and response.get_json()["ok"] is False
    with app.app_context():
        assert _state(delivery_id).confirmed_at is None and _state(delivery_id).read_at is None


def test_banner_shows_until_closed_then_stays_in_the_list_when_dismissed(app):
    with data(app):
        me = _customer("me@inbox.example")
        delivery_id = f.delivery(me, "Плановые работы", kind="banner",
                                 display_until=NOW + timedelta(days=2)).id
    client = _signed_in(app, "me@inbox.example")
    assert f'id="banner-{delivery_id}"' in client.get("/portal/profile/").get_data(as_text=True)
    assert client.post(f"/portal/notifications/{delivery_id}/dismiss", data={"next": "/portal/profile/"}
                       ).headers["Location"].endswith("/portal/profile/")
    assert f'id="banner-{delivery_id}"' not in client.get("/portal/profile/").get_data(as_text=True)
    assert _list_subjects(client.get("/portal/notifications")) == ["Плановые работы"]


def test_banner_and_modal_show_only_inside_the_display_window_and_stay_listed_when_it_ended(app):
    start, end = NOW + timedelta(days=1), NOW + timedelta(days=3)
    with data(app):
        me = _customer("me@inbox.example")
        banner = f.delivery(me, "Отключение", kind="banner", display_from=start, display_until=end).id
        f.delivery(me, "Окно позже", kind="modal", display_from=start, display_until=end)
    client = _signed_in(app, "me@inbox.example")
    page = client.get("/portal/profile/").get_data(as_text=True)
    assert f'id="banner-{banner}"' not in page and "data-inbox-modal" not in page
    assert _list_subjects(client.get("/portal/notifications")) == []
    assert 'data-bell-count aria-hidden="true">0<' in page

    clock.set_now(start + timedelta(hours=1))
    client = _signed_in(app, "me@inbox.example")  # a new session: the old one idled out over the days
    page = client.get("/portal/profile/").get_data(as_text=True)
    assert f'id="banner-{banner}"' in page and "data-inbox-modal" in page
    assert 'data-bell-count aria-hidden="true">2<' in page

    clock.set_now(end + timedelta(minutes=1))
    client = _signed_in(app, "me@inbox.example")
    page = client.get("/portal/profile/").get_data(as_text=True)
    assert f'id="banner-{banner}"' not in page and "data-inbox-modal" not in page
    assert sorted(_list_subjects(client.get("/portal/notifications"))) == ["Окно позже", "Отключение"]


def test_bell_costs_the_same_statements_when_user_has_1_or_30_notifications(app, query_counter):
    with data(app):
        few, many = _customer("few@inbox.example"), _customer("many@inbox.example")
        f.delivery(few, "Одно")
        f.delivery(few, "Баннер", kind="banner")   # both users have a banner or modal waiting: same page shape
        for n in range(30):
            f.delivery(many, f"Уведомление {n}", kind=("bell", "modal", "banner")[n % 3],
                       read_at=NOW if n % 4 == 0 else None)
        db.session.add(News(title="Новость", body_markdown="Текст", published_at=NOW - timedelta(days=1)))

    def statements(email: str) -> tuple[int, str]:
        client = _signed_in(app, email)
        client.get("/portal/profile/")  # warm up the session and caches
        with query_counter() as counter:
            page = client.get("/portal/profile/").get_data(as_text=True)
        return counter.count, page

    few_count, few_page = statements("few@inbox.example")
    many_count, many_page = statements("many@inbox.example")
    assert 'data-bell-count aria-hidden="true">3<' in few_page       # two notifications + one news
    assert 'data-bell-count aria-hidden="true">23<' in many_page     # 22 unread + one news
    assert few_count == many_count


def test_mark_all_read_empties_the_bell_but_not_news_when_pressed(app):
    with data(app):
        me = _customer("me@inbox.example")
        for n in range(3):
            f.delivery(me, f"Уведомление {n}")
        db.session.add(News(title="Новость", body_markdown="Текст", published_at=NOW - timedelta(days=1)))
    client = _signed_in(app, "me@inbox.example")
    client.post("/portal/notifications/read-all")
    page = client.get("/portal/notifications").get_data(as_text=True)
    assert 'data-bell-count aria-hidden="true">1<' in page
    assert "Mark all as read" not in page and "Отметить все как прочитанные" not in page


def test_news_dot_goes_when_opened_and_another_branchs_news_stay_hidden_when_listed(app):
    with data(app):
        north, south = f.branch(), f.branch()
        _customer("me@inbox.example", branch=north)
        everyone = News(title="Новые тарифы", body_markdown="С 1 июля **новые** тарифы.",
                        published_at=NOW - timedelta(days=2))
        mine = News(title="Новости северного филиала", body_markdown="Текст", branch_id=north.id,
                    published_at=NOW - timedelta(days=1))
        theirs = News(title="Новости южного филиала", body_markdown="Текст", branch_id=south.id,
                      published_at=NOW - timedelta(days=1))
        future = News(title="Будущая новость", body_markdown="Текст", published_at=NOW + timedelta(days=1))
        db.session.add_all([everyone, mine, theirs, future])
        db.session.flush()
        everyone_id, theirs_id, future_id = everyone.id, theirs.id, future.id
    client = _signed_in(app, "me@inbox.example")
    main = _main(client.get("/portal/news"))
    assert "Новые тарифы" in main and "Новости северного филиала" in main
    assert "южного" not in main and "Будущая" not in main
    assert main.count("inbox-dot inbox-dot-blink") == 2
    item = client.get(f"/portal/news/{everyone_id}")
    assert item.status_code == 200 and "<strong>новые</strong>" in _main(item)
    assert _main(client.get("/portal/news")).count("inbox-dot inbox-dot-blink") == 1
    client.get(f"/portal/news/{everyone_id}")  # opening again adds nothing
    with app.app_context():
        assert db.session.query(NewsRead).count() == 1
    assert client.get(f"/portal/news/{theirs_id}").status_code == 404
    assert client.get(f"/portal/news/{future_id}").status_code == 404


def test_email_only_notification_is_not_listed_when_delivered(app):
    with data(app):
        me = _customer("me@inbox.example")
        f.delivery(me, "Только письмо", kind="email")
    response = _signed_in(app, "me@inbox.example").get("/portal/notifications")
    assert _list_subjects(response) == []
    assert "No notifications yet" in response.get_data(as_text=True) or \
        "Уведомлений пока нет" in response.get_data(as_text=True)


def test_list_pages_by_twenty_when_there_are_more(app):
    with data(app):
        me = _customer("me@inbox.example")
        for n in range(25):
            f.delivery(me, f"Уведомление {n:02d}", delivered_at=NOW - timedelta(minutes=n))
    client = _signed_in(app, "me@inbox.example")
    first = _list_subjects(client.get("/portal/notifications"))
    second = _list_subjects(client.get("/portal/notifications?page=2"))
    assert len(first) == 20 and first[0] == "Уведомление 00"
    assert second == [f"Уведомление {n:02d}" for n in range(20, 25)]


def test_bell_count_is_one_statement_when_user_has_notifications_and_news(app, query_counter):
    from crm.services import inbox

    with data(app):
        me = _customer("me@inbox.example")
        for n in range(5):
            f.delivery(me, f"Уведомление {n}")
        db.session.add(News(title="Новость", body_markdown="Текст", published_at=NOW - timedelta(days=1)))
        user_id, user_class = me.id, type(me)
    with app.app_context():
        user = db.session.get(user_class, user_id)
        with query_counter() as counter:
            counts = inbox.bell_counts(user)
        assert counter.count == 1
        assert (counts.notifications, counts.news, inbox.bell_count(user)) == (5, 1, 6)


def test_list_costs_the_same_statements_when_a_page_holds_1_or_20_notifications_with_files(app, query_counter):
    with data(app):
        for email, count in (("few@inbox.example", 1), ("many@inbox.example", 20)):
            person = _customer(email)
            for n in range(count):
                delivery = f.delivery(person, f"С файлами {n}")
                for name in ("Акт.pdf", "Счёт.pdf"):
                    db.session.add(NotificationAttachment(notification_id=delivery.notification_id, filename=name,
                                                          content_type="application/pdf", size=1,
                                                          storage_key=f"notifications/x{n}{name}"))

    def statements(email: str) -> tuple[int, int]:
        client = _signed_in(app, email)
        client.get("/portal/notifications")
        with query_counter() as counter:
            page = client.get("/portal/notifications").get_data(as_text=True)
        return counter.count, page.count("/portal/notifications/attachments/")

    few_count, few_links = statements("few@inbox.example")
    many_count, many_links = statements("many@inbox.example")
    assert (few_links, many_links) == (2, 40)
    assert few_count == many_count


def test_role_granted_appears_in_the_list_and_bell_when_an_administrator_adds_the_user(app):
    from crm.services.contract_access import grant_role

    with data(app):
        contract = f.contract()
        boss = f.user("boss@inbox.example")
        f.grant(boss, contract, "administrator")
        _customer("clerk@inbox.example")
        number, contract_id = contract.number, contract.id
    with app.test_request_context():
        from crm.models import Contract, CrmUser

        grant_role(db.session.get(Contract, contract_id), "clerk@inbox.example", "accountant",
                   actor=db.session.scalar(db.select(CrmUser).filter_by(email="boss@inbox.example")))
    client = _signed_in(app, "clerk@inbox.example")
    response = client.get("/portal/notifications")
    subjects = _list_subjects(response)
    assert len(subjects) == 1 and number in subjects[0]
    assert "Бухгалтер" in subjects[0] or "Accountant" in subjects[0]
    assert 'data-bell-count aria-hidden="true">1<' in response.get_data(as_text=True)


def test_item_is_dated_and_ordered_by_its_display_start_when_that_came_after_delivery(app):
    start = NOW + timedelta(days=2)
    with data(app):
        me = _customer("me@inbox.example")
        f.delivery(me, "Отправлено заранее", delivered_at=NOW - timedelta(days=1), display_from=start)
        f.delivery(me, "Отправлено позже", delivered_at=NOW + timedelta(days=1))
    clock.set_now(start + timedelta(hours=1))
    response = _signed_in(app, "me@inbox.example").get("/portal/notifications")
    assert _list_subjects(response) == ["Отправлено заранее", "Отправлено позже"]
    assert "12.03.2026" in _text(_main(response))  # the display start (Moscow time), not the delivery day
