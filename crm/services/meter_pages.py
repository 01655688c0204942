"""Paging objects' meters: whole meters per page, so a meter's registers stay together on one page."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, NamedTuple, TypeVar

Obj = TypeVar("Obj")


class MeterPage(NamedTuple, Generic[Obj]):
    page: int                                   # the page shown, clamped to 1..page_count
    page_count: int
    total: int                                  # meters of every page
    page_meters: list[tuple[Obj, list[int]]]    # (object, its meter ids on this page), in order


def page_whole_meters(ordered: Sequence[tuple[Obj, list[int]]], page: int | None,
                      per_page: int | None) -> MeterPage[Obj]:
    """Page `ordered` (object, meter ids) by `per_page` meters (None: everything on one page); a page out of
    range gives the nearest one. An object without meters stays on the page where its position falls (the
    last page should it fall past the end), so it is shown once."""
    total = sum(len(meter_ids) for _obj, meter_ids in ordered)
    page_no, page_count = 1, 1
    if per_page:
        page_count = max(1, -(-total // per_page))
        page_no = min(max(int(page or 1), 1), page_count)
        first, last = (page_no - 1) * per_page, page_no * per_page
    else:
        first, last = 0, total
    position = 0
    page_meters: list[tuple[Obj, list[int]]] = []
    for obj, meter_ids in ordered:
        taken = meter_ids[max(0, first - position):max(0, last - position)]
        empty_here = not meter_ids and (first <= position < last or (page_no == page_count and position >= first))
        if taken or empty_here:
            page_meters.append((obj, taken))
        position += len(meter_ids)
    return MeterPage(page_no, page_count, total, page_meters)
