"""A batch of request-log rows is built with the settings read once and each second formatted
once; every row must be what :func:`request_row` makes of its entry alone."""

from __future__ import annotations

from roost.core.logs import AppEntry, RequestEntry, _as_dict, log_rows, request_row

SETTINGS = {"logs": {"maxDays": 5, "logAuthId": True}, "trustedProxy": {"headers": ["X-Forwarded-For"]}}
HEADERS = [(b"user-agent", b"first/1"), (b"referer", b"https://app.example/a"), (b"user-agent", b"second/2"),
           (b"x-forwarded-for", b"203.0.113.7, 10.0.0.2")]  # fmt: skip


def test_a_batch_has_the_rows_of_its_entries_one_by_one() -> None:
    times = [1_733_356_800.0, 1_733_356_800.9995, 1_733_356_801.0004, 1_733_356_801.25, 1_733_356_859.999]
    errors = [None, ("Bad.", {"title": "too long"})]
    path, query = "/api/files/x/y/z.png", b"token=secret&thumb=10x10"
    batch: list[RequestEntry | AppEntry] = [
        RequestEntry(ts, "GET", path, query, 200 + i, 0.1234567, "10.0.0.2", HEADERS, None, errors[i % 2])
        for i, ts in enumerate(times)
    ]
    batch.insert(2, AppEntry(times[2], 4, "a warning", {"n": 1}))
    rows = [_as_dict(row) for row in log_rows(batch, SETTINGS)]
    for entry, row in zip(batch, rows, strict=True):
        if isinstance(entry, RequestEntry):
            assert row == request_row(entry, SETTINGS, row["id"])
    first = rows[0]
    assert [r["created"] for r in rows] == ["2024-12-05 00:00:00.000Z", "2024-12-05 00:00:00.999Z", "2024-12-05 00:00:01.000Z",
                                            "2024-12-05 00:00:01.000Z", "2024-12-05 00:00:01.250Z", "2024-12-05 00:00:59.999Z"]  # fmt: skip
    assert first["data"]["userAgent"] == "first/1"  # the first of a repeated header, as sent
    assert first["data"]["referer"] == "https://app.example/a"
    assert first["data"]["userIP"] == "10.0.0.2"  # the rightmost forwarded address
    assert first["data"]["url"] == "/api/files/x/y/z.png?token=***&thumb=10x10"
    assert rows[1]["data"]["error"] == "Bad." and rows[1]["data"]["details"] == {"title": "too long"}
    assert rows[2] == {"id": rows[2]["id"], "level": 4, "message": "a warning", "data": {"n": 1}, "created": "2024-12-05 00:00:01.000Z"}
