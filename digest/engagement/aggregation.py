"""Hits → counts: judged as they arrive, held a few seconds, written to the store in batches.

The redirect and the pixel call `HitRecorder.record`: the one-request rules (rules.judge), a
keyed hash for the reader, an append to an in-process buffer; no database on the request's path,
so a burst of clicks from a newsletter going out costs the web app microseconds each. A
background task (`run`, started by the web app) calls `flush` every `tracking.flush_seconds`:
hits held at least `burst_seconds` (so that every hit near them has arrived) go through the burst
rule, with the recently written ones as context, and are written in one transaction
(store/engagement.write_events: one executemany per table). A batch that cannot be written stays
in the buffer for the next flush. Raw events older than `raw_days` are the scheduler's to purge
(schedule/jobs.retention, hourly), whether or not a web app is running.

The reader of a hit is a keyed hash, never an address: of the subscriber with
`tracking.per_subscriber`; otherwise of the client's address, browser, the day and the digest, so
"unique readers" is an estimate that cannot follow anyone from one digest to the next.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import anyio
import anyio.to_thread
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from digest.engagement.rules import (
    EVERY_LINK,
    READER,
    Click,
    Judgement,
    Thresholds,
    bursts,
    judge,
)
from digest.engagement.tokens import EMAIL_CHANNEL, Link, Reader
from digest.settings import SiteSettings, TrackingSettings
from digest.store.engagement import Event, write_events

log = logging.getLogger("digest")

Clock = Callable[[], datetime]

# Hits held at most, should the store be unreachable for long: beyond it, new ones are dropped
# (and the drop logged) rather than growing the web app's memory without end.
MAX_PENDING = 200_000


@dataclass(slots=True)
class _Hit:
    at: datetime
    link: Link
    subscriber_id: str | None
    reader_key: str
    judgement: Judgement

    @property
    def seconds(self) -> float:
        return self.at.timestamp()

    @property
    def message(self) -> str:
        return f"{self.link.digest_key}\n{self.reader_key}"


class HitRecorder:
    """The web app's buffer of hits, and the task that writes them."""

    def __init__(
        self, engine: Engine, site: SiteSettings, tracking: TrackingSettings, clock: Clock
    ) -> None:
        self.engine = engine
        self.tracking = tracking
        self.thresholds = Thresholds.from_settings(tracking)
        self.clock = clock
        secret = site.secret_key.reveal().encode()
        self._readers = hmac.new(secret, b"digest engagement readers v1", hashlib.sha256)
        self._pending: list[_Hit] = []
        self._recent: list[_Hit] = []  # written already, kept as context for the burst rule
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._dropped = 0

    def record(
        self,
        link: Link,
        reader: Reader | None,
        *,
        method: str,
        user_agent: str,
        address: str,
    ) -> Judgement:
        """Judge one hit by the one-request rules and buffer it; its verdict (the burst rule may
        still make a reader's click a scanner's when the batch is written)."""
        now = self.clock()
        sent = reader.issued if reader is not None else link.issued
        judgement = judge(
            kind=link.kind,
            method=method,
            user_agent=user_agent,
            address=address,
            # A post's link is made when the post is planned, not when it goes out.
            seconds_after_delivery=now.timestamp() - sent
            if link.channel == EMAIL_CHANNEL
            else None,
            thresholds=self.thresholds,
        )
        hit = _Hit(
            at=now,
            link=link,
            subscriber_id=reader.subscriber_id if reader is not None else None,
            reader_key=self._reader_key(link, reader, user_agent, address, now),
            judgement=judgement,
        )
        with self._lock:
            if len(self._pending) < MAX_PENDING:
                self._pending.append(hit)
            else:
                self._dropped += 1
        return judgement

    def _reader_key(
        self, link: Link, reader: Reader | None, user_agent: str, address: str, now: datetime
    ) -> str:
        mac = self._readers.copy()
        if reader is not None:
            mac.update(f"subscriber\n{reader.subscriber_id}".encode())
        else:
            day = now.date().isoformat()
            mac.update(f"client\n{day}\n{link.digest_key}\n{address}\n{user_agent}".encode())
        return mac.hexdigest()[:32]

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def flush(self, *, everything: bool = False) -> int:
        """Write the hits held long enough (all of them with `everything`); how many. Raises
        DBAPIError if the store cannot take them, leaving them in the buffer."""
        with self._flushing:
            now = self.clock()
            hold = timedelta(seconds=self.thresholds.burst_seconds)
            with self._lock:
                if everything:
                    ready, waiting = self._pending, []
                else:
                    ready = [hit for hit in self._pending if hit.at + hold <= now]
                    waiting = [hit for hit in self._pending if hit.at + hold > now]
                self._pending = waiting
                context = [*self._recent, *ready, *waiting]
                dropped, self._dropped = self._dropped, 0
            if dropped:
                log.warning("engagement: %d hits dropped: the store took none for long", dropped)
            if not ready:
                return 0
            events = self._events(ready, context)
            try:
                write_events(self.engine, events)
            except DBAPIError:
                with self._lock:
                    self._pending[:0] = ready
                raise
            keep_from = now - 2 * hold
            self._recent = [hit for hit in (*self._recent, *ready) if hit.at >= keep_from]
            return len(events)

    def _events(self, ready: list[_Hit], context: list[_Hit]) -> list[Event]:
        clicks = [hit for hit in context if hit.link.kind == "click"]
        positions = {id(hit): index for index, hit in enumerate(clicks)}
        in_burst = bursts(
            [Click(hit.message, hit.link.name, hit.seconds) for hit in clicks], self.thresholds
        )
        events = []
        for hit in ready:
            judgement = hit.judgement
            if judgement is READER and positions.get(id(hit), -1) in in_burst:
                judgement = EVERY_LINK
            events.append(
                Event(
                    at=hit.at,
                    digest_key=hit.link.digest_key,
                    channel=hit.link.channel,
                    link=hit.link.name,
                    kind=hit.link.kind,
                    verdict=judgement.verdict.value,
                    reason=judgement.reason,
                    reader_key=hit.reader_key,
                    subscriber_id=hit.subscriber_id,
                )
            )
        return events

    def _background_flush(self, everything: bool = False) -> None:
        try:
            self.flush(everything=everything)
        except DBAPIError as error:
            log.error("engagement: could not write hits to the store (kept for later): %s", error)

    async def run(self) -> None:
        """Flush every `flush_seconds` until cancelled, then write whatever is left."""
        try:
            while True:
                await anyio.sleep(self.tracking.flush_seconds)
                await anyio.to_thread.run_sync(self._background_flush)
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self._background_flush, True)
