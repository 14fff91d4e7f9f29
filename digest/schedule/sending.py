"""One worker's email send: claiming, building, marking, handing over and recording, side by side.

The adapter's connections (`EmailAdapter.send_each`) each take the next message as soon as they
are free and tell each answer at once. The calling thread is the recorder: it writes the answers
that came in meanwhile as one group (one executemany, one transaction, which also marks the next
messages in flight), and claims the next batch before the current one runs out, so that the
connections never wait for a batch to end.

A message is handed over only once its row's in-flight mark is committed, and its connection
lets the service take it only once the previous answer on that connection is recorded: a worker
killed at any moment leaves at most one accepted, unrecorded message per connection, the only
ones that go out again when its rows are taken over.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from digest import outbox
from digest.delivery.email.base import Recorded
from digest.models import Delivery, DeliveryChannel, DeliveryResult, DeliveryStatus
from digest.outbox import DeliveryReport, OnRow
from digest.render.message import OutgoingEmail
from digest.schedule.messages import CannotBuild, Skip

if TYPE_CHECKING:
    from digest.schedule.deliverer import Deliverer

log = logging.getLogger("digest")

# Batches one run claims before the deliverer looks at the other channels' rows again.
CLAIMS_PER_RUN = 50
BUILD_AHEAD = 32

Outcome = tuple[Delivery, DeliveryResult | str]


class EmailRun:
    """Sends claimed email rows until none is due, the run is paused or asked to stop."""

    def __init__(self, deliverer: Deliverer, report: DeliveryReport, on_row: OnRow | None) -> None:
        self.deliverer = deliverer
        self.report = report
        self.on_row = on_row
        self.adapter = deliverer.email
        self.limiter = deliverer.limiter
        connections = self.adapter.concurrency
        self.connections = connections
        # Marked ahead: between one and two messages for each connection, so none waits.
        self.window = max(1, min(2 * connections, self.limiter.burst))
        # Built ahead of marking: the subscribers of several windows read in one query, the
        # statuses still read at most a few dozen messages before they go.
        self.build_ahead = max(1, min(BUILD_AHEAD, self.limiter.burst))
        self.changed = threading.Condition()
        self.claimed: deque[Delivery] = deque()  # claimed, not yet built
        self.ready: deque[tuple[Delivery, OutgoingEmail]] = deque()  # built, not yet marked
        self.marked: deque[tuple[Delivery, OutgoingEmail]] = deque()  # waiting for a connection
        self.in_flight: dict[int, Delivery] = {}  # handed over, answer not yet recorded
        self.answers: list[tuple[Delivery, DeliveryResult, Recorded]] = []
        self.recording: list[tuple[Delivery, DeliveryResult, Recorded]] = []  # being written
        self.holding: Counter[str] = Counter()  # unfinished rows held, by digest
        self.alone = False  # a row a dead worker had in flight is being sent: nothing else goes
        self.finished = False  # nothing more is handed over
        self.sender_done = False
        self.sender_error: BaseException | None = None
        self.broken = False  # recording failed: every answer from now on is lost
        self.claims = 0
        self.exhausted = False  # no more rows to claim in this run
        self.renew_at: datetime | None = None
        self.valid_until: datetime | None = None  # when the leases end, unless renewed
        # Answers are written to the service's log at once, not flushed to disk each time: a
        # crash of the database server (not of the worker) may lose the last few.
        self.writer = outbox.ResultWriter(
            deliverer.ctx.store.engine, owner=deliverer.owner, durable=False
        )

    # What the connections call ------------------------------------------------------------

    def take(self) -> tuple[int, OutgoingEmail] | None:
        with self.changed:
            while not self._may_take() and not self.finished:
                if self.marked:
                    # Only the lease holds the message back: the recorder renews it. (Told
                    # when nothing is marked, the other connections would wake each other
                    # in turn, spinning on the lock while the recorder waits for the store.)
                    self.changed.notify_all()
                self.changed.wait()
            if self.finished:
                return None
            row, message = self.marked.popleft()
            self.in_flight[row.id] = row
            if row.unanswered:
                self.alone = True
            self.changed.notify_all()
            return row.id, message

    def answered(self, row_id: int, result: DeliveryResult) -> Recorded:
        recorded = Recorded()
        with self.changed:
            if self.broken:
                recorded.set(lost=True)
                return recorded
            self.answers.append((self.in_flight[row_id], result, recorded))
            self.deliverer.note(result, self.report)
            if self.report.paused is not None:
                self.finished = True  # a pause stops every connection at once
            self.changed.notify_all()
        return recorded

    def _may_take(self) -> bool:
        # A message goes only while its lease holds: after a stall longer than the lease,
        # another worker may have taken the rows (the recorder renews, and drops those).
        assert self.valid_until is not None
        return bool(self.marked) and self.deliverer.ctx.clock() < self.valid_until

    # The recorder ---------------------------------------------------------------------------

    def run(self) -> bool:
        """Send until done; whether any email row was claimed."""
        if not self._claim():
            return False
        sender = threading.Thread(target=self._send, name="email-sender", daemon=True)
        ticker = threading.Thread(target=self._tick, name="email-ticker", daemon=True)
        with self.writer:
            sender.start()
            ticker.start()
            try:
                while self._step():
                    pass
            except BaseException:
                self._break()
                raise
            finally:
                with self.changed:
                    self.finished = True
                    self.changed.notify_all()
                sender.join()
                self._release_untried()
        if self.sender_error is not None:
            raise self.sender_error
        return True

    def _send(self) -> None:
        try:
            self.adapter.send_each(self.take, self.answered)
        except BaseException as error:  # re-raised by the recorder, after it recorded the rest
            self.sender_error = error
        finally:
            with self.changed:
                self.sender_done = True
                self.finished = True
                self.changed.notify_all()

    def _tick(self) -> None:
        """Wakes the recorder now and then, to renew the lease while a connection is slow
        (timed waits never end under libfaketime; sleeps do)."""
        pause = min(1.0, self.deliverer.lease.total_seconds() / 6)
        while not self.sender_done:
            time.sleep(pause)
            with self.changed:
                self.changed.notify_all()

    def _step(self) -> bool:
        """One group: the answers that came in, the next window marked; False when all is done."""
        with self.changed:
            while not (
                self.answers or self._wants_marks() or self.sender_done or self._renew_due()
            ):
                self.changed.wait()
            answers, self.answers = self.answers, []
            self.recording = answers
            if self.sender_done and not answers:
                return False
            stopping = self.deliverer.stop.is_set() or self.report.paused is not None
            if stopping:
                self.finished = True
                self.changed.notify_all()
            marking = not stopping and self._wants_marks()
            building = self._next_to_build() if marking else []
        if self._renew_due():
            self._renew()
        outcomes: list[Outcome] = [(row, result) for row, result, _ in answers]
        if building:
            if self.limiter.per_second and outcomes:
                # The limiter may sleep: what came in is recorded first, not held back by it.
                self._record(outcomes, answers, [])
                outcomes, answers = [], []
            self.limiter.acquire(len(building))
            # Built now, from the subscribers read now: whoever left meanwhile gets nothing.
            built = self.deliverer.messages.build_many(building, self.deliverer.ctx.clock())
            for row, item in zip(building, built, strict=True):
                if isinstance(item, Skip):
                    outcomes.append((row, _unbuilt(item)))
                else:
                    self.ready.append((row, item))
        with self.changed:
            window = self._next_window() if marking else []
        self._record(outcomes, answers, window)
        with self.changed:
            self._claim_more()
            waiting = self.claimed or self.ready or self.marked or self.in_flight
            if self.exhausted and not waiting:
                self.finished = True
            self.changed.notify_all()
        return True

    def _next_row(self) -> Delivery | None:
        if self.ready:
            return self.ready[0][0]
        return self.claimed[0] if self.claimed else None

    def _wants_marks(self) -> bool:
        if self.finished or self.alone:
            return False
        following = self._next_row()
        if following is None:
            return self._claim_more_soon()  # claimed once this group is recorded
        if any(row.unanswered for row, _ in self.marked):
            return False
        if following.unanswered:
            return not (self.marked or self.in_flight)  # a suspect goes alone
        return len(self.marked) < self.connections

    def _claim_more_soon(self) -> bool:
        return not self.exhausted and len(self.claimed) < self.deliverer.batch // 2

    def _next_to_build(self) -> list[Delivery]:
        """Claimed rows to build when fewer than a window are built: a few windows' worth at
        once (one read of their subscribers), or a suspect alone."""
        if len(self.ready) >= self.window or not self.claimed:
            return []
        if self.claimed[0].unanswered:
            return [self.claimed.popleft()] if not self.ready else []
        rows: list[Delivery] = []
        while self.claimed and len(rows) < self.build_ahead and not self.claimed[0].unanswered:
            rows.append(self.claimed.popleft())
        return rows

    def _next_window(self) -> list[tuple[Delivery, OutgoingEmail]]:
        """The built messages to mark in flight now: a window, or a suspect alone."""
        if not self.ready:
            return []
        if self.ready[0][0].unanswered:
            return [self.ready.popleft()]
        window: list[tuple[Delivery, OutgoingEmail]] = []
        while self.ready and len(window) < self.window and not self.ready[0][0].unanswered:
            window.append(self.ready.popleft())
        return window

    def _record(
        self,
        outcomes: Sequence[Outcome],
        answers: Sequence[tuple[Delivery, DeliveryResult, Recorded]],
        sending: Sequence[tuple[Delivery, OutgoingEmail]],
    ) -> None:
        if not outcomes and not sending:
            return
        deliverer = self.deliverer
        for row, _ in outcomes:
            self.holding[row.digest_key] -= 1
        unfinished = {key for key, count in self.holding.items() if count > 0}
        held, states = self.writer.record(
            now=deliverer.ctx.clock(),
            sending=[row.id for row, _ in sending],
            outcomes=outcomes,
            unknown=deliverer.unknown,
            unfinished=unfinished,
        )
        self._drop_lost([row for row, _ in sending if row.id not in held])
        with self.changed:
            for row, _, recorded in answers:
                del self.in_flight[row.id]
                recorded.set()
            if answers:
                self.alone = any(row.unanswered for row in self.in_flight.values())
            self.marked.extend(item for item in sending if item[0].id in held)
            self.changed.notify_all()
        self.report.count(states, self.on_row)

    def _claim(self) -> bool:
        """Claim the next batch (the recorder's thread); whether it got any row."""
        deliverer = self.deliverer
        limit = deliverer.claim_limit()
        if not limit or self.claims >= CLAIMS_PER_RUN:
            self.exhausted = True
            return False
        ctx = deliverer.ctx
        rows = outbox.claim(
            ctx.store.engine,
            owner=deliverer.owner,
            limit=limit,
            lease=deliverer.lease,
            now=ctx.clock(),
            channels=(DeliveryChannel.EMAIL,),
            due_by=deliverer.due_by,
        )
        self.claims += 1
        if self.renew_at is None:
            self.renew_at = ctx.clock() + deliverer.lease / 3
            self.valid_until = ctx.clock() + deliverer.lease
        if not rows:
            self.exhausted = True
            return False
        # Rows whose last worker died while the service had them go first, each alone: if one
        # of them is what kills workers, it uses up its own attempts, not its neighbours'.
        rows.sort(key=lambda row: not row.unanswered)
        with self.changed:
            self.claimed.extend(rows)
            self.holding.update(row.digest_key for row in rows)
        return True

    def _claim_more(self) -> None:
        """With the lock held: claim the next batch once the claimed rows run low."""
        if self.finished or not self._claim_more_soon():
            return
        self.changed.release()
        try:
            self._claim()
        finally:
            self.changed.acquire()

    def _renew_due(self) -> bool:
        return self.renew_at is not None and self.deliverer.ctx.clock() >= self.renew_at

    def _renew(self) -> None:
        """Every row this worker holds keeps its lease, however slow the service is; the rows
        marked but not handed over that another worker took meanwhile are dropped."""
        deliverer = self.deliverer
        now = deliverer.ctx.clock()
        engine = deliverer.ctx.store.engine
        outbox.renew(engine, owner=deliverer.owner, lease=deliverer.lease, now=now)
        with self.changed:
            waiting = [row for row, _ in self.marked]
        if waiting:
            held, _ = self.writer.record(now=now, sending=[row.id for row in waiting])
            self._drop_lost([row for row in waiting if row.id not in held])
            with self.changed:
                self.marked = deque(item for item in self.marked if item[0].id in held)
        with self.changed:
            self.renew_at = now + deliverer.lease / 3
            self.valid_until = now + deliverer.lease
            self.changed.notify_all()

    def _drop_lost(self, lost: Sequence[Delivery]) -> None:
        if lost:
            log.warning("%d rows were taken over by another worker; not sent here", len(lost))
        for row in lost:
            self.holding[row.digest_key] -= 1

    def _break(self) -> None:
        """Recording failed: no connection lets another message go."""
        with self.changed:
            self.broken = True
            self.finished = True
            for _, _, recorded in (*self.recording, *self.answers):
                if not recorded.is_set():
                    recorded.set(lost=True)
            self.answers = []
            self.changed.notify_all()

    def _release_untried(self) -> None:
        """Rows claimed but never handed over go back, their attempt not counted."""
        if self.broken:
            return  # the store failed; their leases run out
        with self.changed:
            untried = [*self.claimed, *(row for row, _ in (*self.ready, *self.marked))]
            self.claimed.clear()
            self.ready.clear()
            self.marked.clear()
        deliverer = self.deliverer
        outbox.release(
            deliverer.ctx.store.engine, untried, owner=deliverer.owner, now=deliverer.ctx.clock()
        )


def _unbuilt(skip: Skip) -> DeliveryResult | str:
    """A skipped row's reason; a row whose message cannot be built fails, never to be retried."""
    if isinstance(skip, CannotBuild):
        return DeliveryResult(DeliveryStatus.REJECTED, response=skip.reason)
    return skip.reason
