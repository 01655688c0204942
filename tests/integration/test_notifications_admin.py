"""Back office notifications (SPEC B6): staff author a notification, preview it as a customer, send it
and see the statistics; bad input is refused with its field named and changes nothing; customers and
read-only staff cannot author."""
from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from crm import clock
from crm.models import EmailOutbox, Notification, NotificationDelivery
from crm.models.catalog import News
from tests import factories as f

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture()
def desk(db, client):
    """A curator signed in; two branches with one customer each, plus a customer of no branch."""
    clock.set_now(NOW)
    north, south = f.branch(name="Северный"), f.branch(name="Южный")
    north_contract, south_contract = f.contract(branch_=north), f.contract(branch_=south)
    north_user, south_user = f.user("north@client.example"), f.user("south@client.example")
    f.grant(north_user, north_contract, "manager")
    f.grant(south_user, south_contract, "administrator")
    f.user("curator7@energo.example", username="curator7", roles=("Curator",))
    db.session.commit()
    assert f.staff_login(client, "curator7").status_code == 302
    return {"north": north, "south": south, "north_user": north_user, "south_user": south_user,
            "north_contract": north_contract}


def form(**overrides):
    data = {"kind": "modal", "category": "outage", "subject": "Отключение 10 марта",
            "body_markdown": "Плановые работы **с 10:00 до 14:00**. <script>alert(1)</script>",
            "confirm_text": "Понятно", "goto_url": "/portal/contracts", "goto_label": "К договорам",
            "display_from": "2026-03-02T12:00", "display_until": "2026-03-10T18:00", "audience_type": "everyone"}
    data.update(overrides)
    return data


def count(db, model) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model))


def test_curator_authors_previews_and_sends_a_branch_notification_when_the_form_is_valid(db, client, desk):
    response = client.post("/admin/notifications/new", data=form(audience_type="branch",
                                                                  branch_ids=[str(desk["north"].id)]))
    assert response.status_code == 302
    notification = db.session.scalars(select(Notification)).one()
    assert notification.audience == {"type": "branch", "ids": [desk["north"].id]}
    assert notification.display_from == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # 12:00 Moscow
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Плановые работы <strong>с 10:00 до 14:00</strong>" in page and "alert(1)" not in page
    assert "клиентов сейчас: 1" in page
    assert "Клиенты филиалов: 1 (Северный)" in page

    preview = client.get(f"/admin/notifications/{notification.id}?preview_email=north@client.example")
    assert "north@client.example входит в число получателей" in preview.get_data(as_text=True)
    preview = client.get(f"/admin/notifications/{notification.id}?preview_email=south@client.example")
    assert "south@client.example не входит в число получателей" in preview.get_data(as_text=True)

    response = client.post(f"/admin/notifications/{notification.id}/send")
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Отправлено" in page
    db.session.rollback()
    users = db.session.scalars(select(NotificationDelivery.user_id)).all()
    assert users == [desk["north_user"].id]
    assert count(db, EmailOutbox) == 0, "no e-mail copy was asked for"


def test_statistics_show_read_and_confirmed_counts_when_customers_reacted(db, client, desk):
    client.post("/admin/notifications/new", data=form(send_email="y"))
    notification = db.session.scalars(select(Notification)).one()
    client.post(f"/admin/notifications/{notification.id}/send")
    db.session.rollback()
    delivery = db.session.scalars(select(NotificationDelivery)
                                  .where(NotificationDelivery.user_id == desk["north_user"].id)).one()
    delivery.read_at = delivery.confirmed_at = NOW
    db.session.commit()
    page = client.get(f"/admin/notifications/{notification.id}").get_data(as_text=True)
    assert ">2</td>" in page  # recipients and delivered
    assert "1 (50 %)" in page  # read
    assert count(db, EmailOutbox) == 2, "outage is mandatory: both customers get the e-mail copy"
    listing = client.get("/admin/notifications/").get_data(as_text=True)
    assert "Отключение 10 марта" in listing and "50 %" in listing
    assert "/admin/notifications/new" in listing


@pytest.mark.parametrize("overrides, message", [
    ({"subject": ""}, "Укажите тему."),
    ({"goto_url": "javascript:alert(1)"}, "Ссылка должна быть веб-адресом"),
    ({"display_until": "2026-03-01T10:00"}, "Окончание периода показа должно быть позже его начала."),
    ({"audience_type": "contracts", "contract_numbers": "12345678901234"}, "Договоры не найдены: 12345678901234."),
    ({"audience_type": "user", "user_emails": "nobody@client.example"},
     "Нет активного клиента с e-mail: nobody@client.example."),
    ({"audience_type": "branch"}, "Выберите хотя бы один филиал."),
])
def test_form_is_refused_with_a_message_and_nothing_saved_when_input_is_bad(db, client, desk, overrides, message):
    response = client.post("/admin/notifications/new", data=form(**overrides))
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert count(db, Notification) == 0


def test_audience_cannot_change_when_the_notification_was_sent(db, client, desk):
    client.post("/admin/notifications/new", data=form())
    notification = db.session.scalars(select(Notification)).one()
    client.post(f"/admin/notifications/{notification.id}/send")
    response = client.post(f"/admin/notifications/{notification.id}/edit",
                           data=form(audience_type="user", user_emails="south@client.example"))
    assert "Уведомление уже отправлено" in response.get_data(as_text=True)
    db.session.rollback()
    assert db.session.get(Notification, notification.id).audience == {"type": "everyone"}
    again = client.post(f"/admin/notifications/{notification.id}/send", follow_redirects=True)
    assert "Уведомление уже отправлено." in again.get_data(as_text=True)
    assert count(db, NotificationDelivery) == 2


def test_text_can_be_corrected_when_the_notification_was_sent(db, client, desk):
    client.post("/admin/notifications/new", data=form(audience_type="branch", branch_ids=[str(desk["south"].id)]))
    notification = db.session.scalars(select(Notification)).one()
    client.post(f"/admin/notifications/{notification.id}/send")
    edit_page = client.get(f"/admin/notifications/{notification.id}/edit").get_data(as_text=True)
    assert "<fieldset class=\"panel panel-default\" disabled>" in edit_page
    corrected = {key: value for key, value in form(subject="Отключение 11 марта").items() if key != "audience_type"}
    response = client.post(f"/admin/notifications/{notification.id}/edit", data=corrected)
    assert response.status_code == 302
    db.session.rollback()
    notification = db.session.get(Notification, notification.id)
    assert notification.subject == "Отключение 11 марта"
    assert notification.audience == {"type": "branch", "ids": [desk["south"].id]}


def test_schedule_sets_the_time_when_it_is_in_the_future(db, client, desk):
    client.post("/admin/notifications/new", data=form(display_until=""))
    notification = db.session.scalars(select(Notification)).one()
    page = client.post(f"/admin/notifications/{notification.id}/schedule", data={"scheduled_at": "2026-03-02T11:00"},
                       follow_redirects=True).get_data(as_text=True)
    assert "Время отправки должно быть в будущем." in page
    client.post(f"/admin/notifications/{notification.id}/schedule", data={"scheduled_at": "2026-03-03T08:30"})
    db.session.rollback()
    assert db.session.get(Notification, notification.id).scheduled_at == datetime(2026, 3, 3, 5, 30, tzinfo=UTC)


def test_attachment_is_stored_under_a_generated_key_when_uploaded(db, client, desk):
    client.post("/admin/notifications/new", data=form())
    notification = db.session.scalars(select(Notification)).one()
    client.post(f"/admin/notifications/{notification.id}/attachments",
                data={"files": (io.BytesIO(b"%PDF-1.4 test"), "../../График отключений.pdf")},
                content_type="multipart/form-data")
    db.session.rollback()
    attachment = db.session.get(Notification, notification.id).attachments[0]
    assert attachment.filename == "График отключений.pdf" and attachment.size == 13
    assert "График" not in attachment.storage_key and ".." not in attachment.storage_key


def test_news_item_is_published_when_a_curator_adds_it(db, client, desk):
    response = client.post("/admin/news/add", data={"title": "Новый тариф", "body_markdown": "С **1 июля**.",
                                                    "published_at": "2026-03-02 12:00:00", "branch": ""})
    assert response.status_code == 302
    news = db.session.scalars(select(News)).one()
    assert news.title == "Новый тариф" and news.published_at == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_customer_cannot_open_notification_authoring_when_signed_in(db, app):
    customer = f.user("customer@client.example")
    db.session.commit()
    client = app.test_client()
    f.login(client, customer.email)
    for url in ("/admin/notifications/", "/admin/notifications/new", "/admin/news/list/"):
        response = client.get(url)
        assert response.status_code in (302, 403) and "/admin/notifications" not in response.headers.get(
            "Location", "")
    assert client.post("/admin/notifications/new", data=form()).status_code in (302, 403)
    assert count(db, Notification) == 0


def test_auditor_sees_notifications_but_cannot_author_when_signed_in(db, app):
    f.user("auditor5@energo.example", username="auditor5", roles=("Auditor",))
    db.session.commit()
    client = app.test_client()
    f.staff_login(client, "auditor5")
    listing = client.get("/admin/notifications/")
    assert listing.status_code == 200
    assert "/admin/notifications/new" not in listing.get_data(as_text=True), "no authoring button for read-only staff"
    response = client.post("/admin/notifications/new", data=form())
    assert response.status_code in (302, 403)
    assert count(db, Notification) == 0
