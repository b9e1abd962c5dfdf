"""Sending queued webhook deliveries: signed POSTs, retried with backoff, every attempt logged.

Each POST carries the JSON payload and the headers ``X-Provreg-Event``, ``X-Provreg-Delivery``
(the delivery's id, also the payload's ``id``), ``X-Provreg-Timestamp`` (Unix seconds) and
``X-Provreg-Signature: sha256=<hex>``, the HMAC-SHA256 under the subscription's secret of
``<timestamp>.<body>``. A 2xx answer delivers; a 5xx or a lost connection is retried after
``backoff * 2**n`` seconds up to ``attempts`` times; any other answer fails at once. Nothing
here raises into the write that queued the delivery: outcomes go to ``webhook_delivery``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Callable

import requests
from sqlmodel import Session, col, select

from registry.db.models import Webhook, WebhookDelivery, utcnow
from registry.services.webhooks.events import QUEUED

log = logging.getLogger("provreg.webhooks")

SIGNATURE_HEADER = "X-Provreg-Signature"
TIMESTAMP_HEADER = "X-Provreg-Timestamp"
DELIVERY_HEADER = "X-Provreg-Delivery"
EVENT_HEADER = "X-Provreg-Event"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of ``<timestamp>.<body>`` under ``secret``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class Dispatcher:
    """Sends pending deliveries with sessions from ``sessions``: in a background thread
    (a server), or in the caller's thread after its write committed (``background=False``: the
    CLI's local mode, which exits right after)."""

    def __init__(
        self,
        sessions: Callable[[], Session],
        *,
        attempts: int = 5,
        backoff: float = 1.0,
        timeout: float = 5.0,
        background: bool = True,
    ) -> None:
        self.sessions = sessions
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.timeout = timeout
        self.background = background
        self.http = requests.Session()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._again = False

    def after_write(self, session: Session) -> None:
        """Send what ``session``'s committed writes queued, if anything."""
        if session.info.pop(QUEUED, False):
            self.kick()

    def kick(self) -> None:
        """Send every pending delivery (now, or in the background thread)."""
        if not self.background:
            self._run_safely()
            return
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                self._again = True
                return
            self._thread = threading.Thread(target=self._loop, name="provreg-webhooks", daemon=True)
            self._thread.start()

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the background thread to finish what it has (tests, shutdown)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _loop(self) -> None:
        while True:
            self._run_safely()
            with self._lock:
                if not self._again:
                    self._thread = None
                    return
                self._again = False

    def _run_safely(self) -> None:
        try:
            self.deliver_pending()
        except Exception:  # noqa: BLE001 - a delivery failure never reaches the write
            log.exception("webhook delivery failed")

    def deliver_pending(self) -> int:
        """Send each pending delivery, oldest first; returns how many were attempted."""
        done = 0
        with self.sessions() as session:
            ids = session.exec(
                select(WebhookDelivery.id)
                .where(WebhookDelivery.state == "pending")
                .order_by(col(WebhookDelivery.id))
            ).all()
            for delivery_id in ids:
                row = session.get(WebhookDelivery, delivery_id)
                if row is None or row.state != "pending":
                    continue
                self._deliver(session, row)
                done += 1
        return done

    def _deliver(self, session: Session, row: WebhookDelivery) -> None:
        hook = session.get(Webhook, row.webhook_id)
        if hook is None:
            return
        body = row.payload.encode()
        while row.state == "pending":
            if row.attempts:
                time.sleep(self.backoff * 2 ** (row.attempts - 1))
            stamp = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "provreg-webhooks",
                EVENT_HEADER: row.event,
                DELIVERY_HEADER: row.delivery_id,
                TIMESTAMP_HEADER: stamp,
                SIGNATURE_HEADER: signature(hook.secret, stamp, body),
            }
            entry: dict[str, object] = {"at": utcnow().isoformat()}
            status: int | None = None
            try:
                answer = self.http.post(hook.url, data=body, headers=headers, timeout=self.timeout)
                status = answer.status_code
                entry["status"] = status
                error = None if status < 400 else f"HTTP {status}"
            except requests.RequestException as exc:
                error = f"{type(exc).__name__}: {str(exc)[:300]}"
                entry["error"] = error
            row.attempts += 1
            row.last_status, row.last_error = status, error
            row.log = [*row.log, entry]
            if status is not None and status < 300:
                row.state, row.delivered_at = "delivered", utcnow()
            elif (status is not None and status < 500) or row.attempts >= self.attempts:
                row.state = "failed"
                log.warning("webhook %s: delivery %s failed: %s", hook.id, row.delivery_id, error)
            session.add(row)
            session.commit()
