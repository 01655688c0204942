"""The contract card and the objects page of a contract with many objects (issue 8): bounded pages."""
from __future__ import annotations

import re

import pytest

from crm.services.contracts import CARD_OBJECT_LIMIT
from crm.services.meters import OBJECTS_PER_PAGE
from tests import factories as f

OBJECTS = max(CARD_OBJECT_LIMIT, OBJECTS_PER_PAGE) + 5


@pytest.fixture()
def big(app, db):
    """A contract with OBJECTS objects of one meter each (codes EO-B000…), its administrator and a
    power engineer who sees three of them."""
    contract = f.contract()
    objects = [f.energy_object(contract, code=f"EO-B{i:03d}", name=f"Корпус {i}") for i in range(OBJECTS)]
    meters = [f.meter(obj, serial=f"SER{i:05d}") for i, obj in enumerate(objects)]
    f.grant(f.user("bigadmin@client.example"), contract, "administrator")
    f.grant(f.user("bigscoped@client.example"), contract, "power_engineer", objects=objects[-3:])
    db.session.commit()
    return {"contract": contract.id, "objects": [obj.id for obj in objects], "meters": [m.id for m in meters]}


def _client(app, login: str):
    client = app.test_client()
    assert f.login(client, login).status_code == 302
    return client


def _object_ids(html: str, prefix: str) -> list[int]:
    """Ids of the objects shown, in order: the card's "object-<id>-header", the objects page's "obj-<id>-title"."""
    suffix = "-header" if prefix == "object-" else "-title"
    return [int(n) for n in re.findall(rf'id="{prefix}(\d+){suffix}"', html)]


def test_card_shows_the_first_objects_the_totals_and_links_to_all_of_them(app, big):
    html = _client(app, "bigadmin@client.example").get(f"/portal/contracts/{big['contract']}/").get_data(as_text=True)
    shown = _object_ids(html, "object-")
    assert shown == big["objects"][:CARD_OBJECT_LIMIT]
    assert f"SER{CARD_OBJECT_LIMIT:05d}" not in html
    header = html.split('id="objects-title"')[1].split("</div>")[0]
    assert re.findall(r"\d+", header.split("</h2>")[1]) == [str(OBJECTS), str(OBJECTS)]  # objects, meters: all
    assert f"/portal/contracts/{big['contract']}/objects" in html.split("objects-truncated")[1][:1500]
    assert f"/portal/contracts/{big['contract']}/card.xlsx" in html.split("objects-truncated")[1][:1500]


def test_card_of_a_scoped_user_with_few_objects_shows_all_of_them_without_the_notice(app, big):
    html = _client(app, "bigscoped@client.example").get(f"/portal/contracts/{big['contract']}/").get_data(
        as_text=True)
    assert _object_ids(html, "object-") == big["objects"][-3:]
    assert "objects-truncated" not in html


def test_card_issues_the_same_statements_with_many_objects_as_with_few(app, big, db, query_counter):
    small = f.contract()
    f.meter(f.energy_object(small))
    f.grant(f.user("smalladmin@client.example"), small, "administrator")
    db.session.commit()
    counts = []
    for login, contract_id in (("smalladmin@client.example", small.id), ("bigadmin@client.example", big["contract"])):
        client = _client(app, login)
        client.get(f"/portal/contracts/{contract_id}/")
        with query_counter() as counter:
            assert client.get(f"/portal/contracts/{contract_id}/").status_code == 200
        counts.append(counter.count)
    assert counts[1] <= counts[0] + 1, counts  # one statement counts the objects and meters not shown
    assert counts[1] <= 10, counts


def test_xlsx_card_still_lists_every_object(app, big):
    import io

    from openpyxl import load_workbook

    body = _client(app, "bigadmin@client.example").get(f"/portal/contracts/{big['contract']}/card.xlsx").data
    text = " ".join(str(cell.value) for sheet in load_workbook(io.BytesIO(body)).worksheets
                    for row in sheet.iter_rows() for cell in row if cell.value is not None)
    assert f"SER{OBJECTS - 1:05d}" in text and "SER00000" in text


def test_objects_page_pages_through_every_object_keeping_the_search(app, big):
    client = _client(app, "bigadmin@client.example")
    base = f"/portal/contracts/{big['contract']}/objects"
    first = client.get(base).get_data(as_text=True)
    assert _object_ids(first, "obj-") == big["objects"][:OBJECTS_PER_PAGE]
    assert f"{base}?page=2" in first and 'aria-current="page">1<' in first
    second = client.get(f"{base}?page=2").get_data(as_text=True)
    assert _object_ids(second, "obj-") == big["objects"][OBJECTS_PER_PAGE:]
    # A page past the last shows the last; garbage shows the first.
    last, garbage = (client.get(f"{base}?page={page}").get_data(as_text=True) for page in ("99", "x"))
    assert _object_ids(last, "obj-") == big["objects"][OBJECTS_PER_PAGE:]
    assert _object_ids(garbage, "obj-") == big["objects"][:OBJECTS_PER_PAGE]
    # The meter search finds a meter on any page, and the counts are those of every page.
    found = client.get(f"{base}?meter=SER{OBJECTS - 1:05d}").get_data(as_text=True)
    assert _object_ids(found, "obj-") == [big["objects"][-1]]
    assert "pagination" not in found
    everything = client.get(f"{base}?q=Корпус").get_data(as_text=True)
    assert "q=%D0%9A%D0%BE%D1%80%D0%BF%D1%83%D1%81&amp;page=2" in everything or "page=2&amp;q=" in everything


def test_objects_page_statements_do_not_grow_with_the_number_of_objects(app, big, db, query_counter):
    small = f.contract()
    f.meter(f.energy_object(small))
    f.grant(f.user("smallobjects@client.example"), small, "administrator")
    db.session.commit()
    counts = []
    for login, contract_id in (("smallobjects@client.example", small.id),
                               ("bigadmin@client.example", big["contract"])):
        client = _client(app, login)
        client.get(f"/portal/contracts/{contract_id}/objects")
        with query_counter() as counter:
            assert client.get(f"/portal/contracts/{contract_id}/objects").status_code == 200
        counts.append(counter.count)
    assert counts[0] == counts[1] and counts[1] <= 10, counts
