"""A publisher's own download logs: one event per row, aggregated into ``ingest`` snapshots.

The log is CSV with a header row naming at least ``timestamp`` and ``repo`` (``NAME`` or
``NAME@REV``); ``user``/``user_id``/``user_hash``/``hashed_user_id`` and ``country`` are kept,
any other column goes into ``extra``. Each event is keyed by the SHA-256 of its normalised row,
so ingesting the same log again stores nothing new. A log is accepted whole or not at all: the
first bad row is named by line and field. After an ingest each variant it touched has two
``ingest`` snapshots at its latest event: ``all`` (every event) and ``30d`` (those of the 30 days
before), recomputed from the stored events, so a back-filled log corrects them.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session, col, select

from registry.db.engine import transaction
from registry.db.models import DownloadEvent, DownloadSnapshot, Variant
from registry.errors import DownloadLogInvalid, InvalidInput, PermissionDenied
from registry.names import parse_ref
from registry.services.downloads.report import downloads_changed
from registry.services.variants.register import find_variant
from schemas.hub import DownloadIngest, DownloadIngestResult, IngestedVariant

USER_COLUMNS = ("user_hash", "hashed_user_id", "user_id", "user")
MAX_ROWS = 5_000_000


@dataclass(frozen=True)
class _Event:
    key: str
    variant_id: int
    occurred_at: datetime
    user_hash: str | None
    country: str | None
    extra: dict[str, Any] | None


def _bad(line: int, field: str, problem: str) -> DownloadLogInvalid:
    return DownloadLogInvalid(
        f"download log line {line}: {field} {problem}; nothing was ingested",
        hint="fix that row (CSV with a header: timestamp,repo,user_hash,country,...)",
        detail={"line": line, "field": field},
    )


def _when(line: int, value: str) -> datetime:
    text = value.strip()
    try:
        if text.replace(".", "", 1).isdigit():
            return datetime.fromtimestamp(float(text), UTC)
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        raise _bad(
            line, "timestamp", f"is not an ISO 8601 time or epoch seconds: {value!r}"
        ) from None
    return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)


def _parse(session: Session, content: str, namespaces: set[str] | None) -> tuple[list[_Event], int]:
    reader = csv.DictReader(io.StringIO(content.lstrip("\ufeff"), newline=""))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    if "timestamp" not in header or "repo" not in header:
        raise _bad(1, "header", "must name the columns timestamp and repo")
    if len(set(header)) != len(header):
        raise _bad(1, "header", "names a column twice")
    reader.fieldnames = header
    user_col = next((c for c in USER_COLUMNS if c in header), None)
    variants: dict[str, int] = {}
    events: list[_Event] = []
    rows = 0
    for row in reader:
        line = reader.line_num
        rows += 1
        if rows > MAX_ROWS:
            raise _bad(line, "file", f"has more than {MAX_ROWS} rows; split it")
        if None in row or any(v is None for v in row.values()):
            raise _bad(line, "row", "does not have as many fields as the header")
        when = _when(line, row["timestamp"])
        repo = row["repo"].strip()
        try:
            ref = parse_ref(repo)
        except InvalidInput as exc:
            raise _bad(line, "repo", f"is not NAME[@REV]: {exc.message}") from None
        if namespaces is not None and ref.namespace not in namespaces:
            raise PermissionDenied(
                f"download log line {line}: your token cannot record downloads of {ref}",
                hint=f"use a token with scope publish:{ref.namespace} or admin",
            )
        if str(ref) not in variants:
            variant = find_variant(session, ref)
            if variant is None or variant.id is None:
                raise _bad(line, "repo", f"names {ref}, which provreg does not know")
            variants[str(ref)] = variant.id
        user = (row.get(user_col) or "").strip() or None if user_col else None
        country = (row.get("country") or "").strip().upper() or None
        if country is not None and len(country) > 8:
            raise _bad(line, "country", f"is not a country code: {country!r}")
        if user is not None and len(user) > 128:
            raise _bad(line, "user", "is longer than 128 characters")
        skip = {"timestamp", "repo", "country", user_col}
        extra = {k: v.strip() for k, v in row.items() if k not in skip and v and v.strip()}
        canonical = json.dumps(
            [when.isoformat(), str(ref), user, country, sorted(extra.items())],
            separators=(",", ":"),
        )
        events.append(
            _Event(
                hashlib.sha256(canonical.encode()).hexdigest(),
                variants[str(ref)],
                when,
                user,
                country,
                extra or None,
            )
        )
    if not events:
        raise _bad(reader.line_num or 1, "file", "holds no download events")
    return events, rows


def ingest_download_log(
    session: Session, body: DownloadIngest, *, namespaces: set[str] | None = None
) -> DownloadIngestResult:
    """Store the log's new events and refresh the ``ingest`` snapshots of the variants it
    names; ``namespaces`` (None: any) limits whose downloads it may record.

    Raises DownloadLogInvalid naming the line and field, PermissionDenied; stores nothing then.
    """
    with transaction(session):
        events, rows = _parse(session, body.content, namespaces)
        unique = {e.key: e for e in events}
        keys = list(unique)
        known: set[str] = set()
        for i in range(0, len(keys), 1000):
            known.update(
                session.exec(
                    select(DownloadEvent.key).where(col(DownloadEvent.key).in_(keys[i : i + 1000]))
                ).all()
            )
        new = [e for k, e in unique.items() if k not in known]
        for i in range(0, len(new), 5000):
            session.execute(
                insert(DownloadEvent),
                [
                    {
                        "key": e.key,
                        "variant_id": e.variant_id,
                        "occurred_at": e.occurred_at,
                        "user_hash": e.user_hash,
                        "country": e.country,
                        "extra": e.extra,
                    }
                    for e in new[i : i + 5000]
                ],
            )
        touched = sorted({e.variant_id for e in events})
        summaries = [_aggregate(session, vid) for vid in touched]
        downloads_changed(session, touched)
    return DownloadIngestResult(
        rows=rows, new_events=len(new), duplicates=len(events) - len(new), variants=summaries
    )


def _aggregate(session: Session, variant_id: int) -> IngestedVariant:
    rows = session.exec(
        select(DownloadEvent.occurred_at, DownloadEvent.user_hash).where(
            DownloadEvent.variant_id == variant_id
        )
    ).all()
    times = [w if w.tzinfo else w.replace(tzinfo=UTC) for w, _ in rows]
    latest = max(times)
    month = sum(1 for t in times if t > latest - timedelta(days=30))
    for window, count in (("all", len(times)), ("30d", month)):
        snap = session.exec(
            select(DownloadSnapshot).where(
                DownloadSnapshot.variant_id == variant_id,
                DownloadSnapshot.window == window,
                DownloadSnapshot.observed_at == latest,
                DownloadSnapshot.source == "ingest",
            )
        ).first()
        if snap is None:
            snap = DownloadSnapshot(
                variant_id=variant_id, window=window, count=count, observed_at=latest,
                source="ingest",
            )  # fmt: skip
        snap.count = count  # recomputed from the stored events: a back-fill corrects it
        session.add(snap)
    session.flush()
    variant = session.get(Variant, variant_id)
    assert variant is not None
    return IngestedVariant(
        name=variant.name,
        revision=variant.revision,
        events=len(times),
        users=len({u for _, u in rows if u}),
        count_30d=month,
        observed_at=latest,
    )
