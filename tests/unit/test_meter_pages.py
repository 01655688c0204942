"""Paging whole meters: page clamping, objects without meters, per_page None."""
from crm.services.meter_pages import MeterPage, page_whole_meters

ORDERED = [("a", [1, 2, 3]), ("empty1", []), ("b", [4, 5]), ("c", [6]), ("empty2", [])]


def test_pages_split_meters_and_keep_objects_in_order():
    assert page_whole_meters(ORDERED, 1, 2) == MeterPage(1, 3, 6, [("a", [1, 2])])
    assert page_whole_meters(ORDERED, 2, 2) == MeterPage(2, 3, 6, [("a", [3]), ("empty1", []), ("b", [4])])
    assert page_whole_meters(ORDERED, 3, 2) == MeterPage(3, 3, 6, [("b", [5]), ("c", [6]), ("empty2", [])])


def test_page_out_of_range_is_clamped():
    assert page_whole_meters(ORDERED, 99, 2).page == 3
    assert page_whole_meters(ORDERED, 0, 2).page == 1
    assert page_whole_meters(ORDERED, -5, 2).page == 1
    assert page_whole_meters(ORDERED, None, 2).page == 1


def test_empty_object_shown_once_on_the_page_where_it_falls():
    # "empty1" sits at position 3: page 2 of per_page 3 (not page 1, whose meters end at position 3).
    pages = [page_whole_meters(ORDERED, n, 3).page_meters for n in (1, 2)]
    assert pages[0] == [("a", [1, 2, 3])]
    assert pages[1] == [("empty1", []), ("b", [4, 5]), ("c", [6]), ("empty2", [])]


def test_objects_without_any_meters_are_on_the_single_page():
    assert page_whole_meters([("x", []), ("y", [])], 5, 20) == MeterPage(1, 1, 0, [("x", []), ("y", [])])


def test_per_page_none_gives_everything():
    assert page_whole_meters(ORDERED, 7, None) == MeterPage(1, 1, 6, ORDERED)
    assert page_whole_meters([], 1, None) == MeterPage(1, 1, 0, [])
