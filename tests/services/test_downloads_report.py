"""Download series, reach over a DAG (each descendant once) and growth over a window."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlmodel import Session

from registry.config import Settings
from registry.errors import InvalidInput
from registry.names import parse_ref
from registry.services import register_variant
from registry.services.downloads.report import downloads_report, record_downloads
from schemas import DownloadRecord
from tests.factories import variant_request


def _at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


def test_reach_counts_a_diamond_descendant_once_and_growth_spans_the_window(
    session: Session,
) -> None:
    register_variant(session, variant_request("acme/base"))
    register_variant(session, variant_request("acme/left", parents={"acme/base": "finetune"}))
    register_variant(session, variant_request("acme/right", parents={"acme/base": "finetune"}))
    register_variant(
        session,
        variant_request("acme/merged", parents={"acme/left": "merge", "acme/right": "merge"}),
    )
    for name, count in (("acme/base", 10), ("acme/left", 20), ("acme/right", 30),
                        ("acme/merged", 40)):  # fmt: skip
        body = DownloadRecord(count=count, observed_at=_at("2026-11-01"))
        record_downloads(session, parse_ref(name), body)
    for day, count in (("2026-10-01", 1000), ("2026-10-20", 1500), ("2026-11-01", 2500)):
        record_downloads(
            session, parse_ref("acme/base"),
            DownloadRecord(count=count, window="all", observed_at=_at(day)),
        )  # fmt: skip
    report = downloads_report(session, parse_ref("acme/base"), window="30d")
    assert report.reach.own == 10 and report.reach.descendants == 3
    assert report.reach.subtree == 10 + 20 + 30 + 40  # merged once, though reached twice
    assert report.reach.own_all_time == 2500 and report.reach.subtree_all_time == 2500
    assert [p.count for p in report.series] == [1000, 1500, 10, 2500]  # by time, then window
    g = report.growth
    assert g.counter == "all" and g.start is not None and g.start.count == 1000
    assert (g.change, g.ratio) == (1500, 2.5)
    short = downloads_report(session, parse_ref("acme/base"), window="10d").growth
    assert short.start is not None and short.start.count == 1500 and short.change == 1000
    with pytest.raises(InvalidInput):
        downloads_report(session, parse_ref("acme/base"), window="forever")


def test_hub_settings_read_hf_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:1")
    monkeypatch.setenv("HF_TOKEN", "hf_abc")
    s = Settings()
    assert (s.hf_endpoint, s.hf_token) == ("http://127.0.0.1:1", "hf_abc")
