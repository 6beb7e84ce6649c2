from datetime import date, datetime, time

import polars as pl

from transforms.dates import parsed_date, parsed_datetime, parsed_time


def test_dates_try_each_format_in_order():
    frame = pl.DataFrame({"d": ["23/11/2026", "2026-11-24", "31/02/2026", "", None, "yesterday"]})
    out = frame.select(parsed_date("d", ["%d/%m/%Y", "%Y-%m-%d"]))["d"].to_list()
    assert out == [date(2026, 11, 23), date(2026, 11, 24), None, None, None, None]


def test_datetimes_accept_iso_with_and_without_t():
    frame = pl.DataFrame({"d": ["2026-11-23 21:30:00", "2026-11-23T21:30:00", "2026-11-23"]})
    out = frame.select(
        parsed_datetime("d", ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"])
    )["d"].to_list()
    assert out == [datetime(2026, 11, 23, 21, 30)] * 2 + [datetime(2026, 11, 23)]


def test_times_are_null_when_blank():
    frame = pl.DataFrame({"t": ["21:30", " 08:05 ", "", None, "25:99"]})
    out = frame.select(parsed_time("t", ["%H:%M"]))["t"].to_list()
    assert out == [time(21, 30), time(8, 5), None, None, None]
