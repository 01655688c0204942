"""An RQ worker killed (SIGKILL) in the middle of an outbox job (issue 8 item 5): the job's e-mails are
sent by the next worker, and none twice — except in the one window no SMTP client can close, where the
second copy carries the same Message-ID as the first (docs/reliability.md, "RQ worker killed mid-job").

Real parts: a private redis-server, `python -m workflows.worker` processes (a worker, then a second
worker and the `--cron` scheduler with the outbox sweep every 2 s), the test database, and an aiosmtpd
sink that stalls inside its DATA handler for one marked message, so the kill lands inside the job at a
known point: while the server is still deciding (it then drops the message, like an MTA that had not
queued it yet), or after it has accepted the message but before its "250" reaches the worker.
"""
from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
import time
from collections import Counter
from email import message_from_bytes, policy

import pytest
from sqlalchemy import select

from crm.models import EmailOutbox
from crm.services import outbox
from tests.services import SmtpSink, WorkerProcess, free_port, stop_workers, unavailable, wait_until

SLOW_MARKER = "STALL-IN-DATA"
# The stuck-claim delay of the sweeper, for the worker processes of these tests (production: 120 s).
# It must exceed the longest delivery; nothing here is slow once the stalled worker is dead.
SWEEP_AFTER_SECONDS = 3
CRON_SWEEP_EVERY_2_SECONDS = ("import workflows.schedule as s; s.PERIODIC_JOBS[:] = [(s.jobs.sweep_outbox_job, 2)]; "
                              "from workflows.worker import main; main(['--cron'])")


class StallingSink(SmtpSink):
    """Stalls in DATA for the first message whose subject carries SLOW_MARKER, until the client goes away
    (aiosmtpd then cancels the handler). `accept_first`: record that message before stalling — the
    server has it, the client never hears the 250."""

    def __init__(self, port: int, accept_first: bool):
        super().__init__(port=port)
        self.accept_first = accept_first
        self.stalled = threading.Event()
        self.aborted = threading.Event()
        self._stall_used = False

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name
        subject = message_from_bytes(envelope.content, policy=policy.default)["Subject"] or ""
        if not self._stall_used and SLOW_MARKER in subject:  # decoded: the header may be an encoded word
            self._stall_used = True
            if self.accept_first:
                await super().handle_DATA(server, session, envelope)
            self.stalled.set()
            try:
                await asyncio.sleep(120)
            except asyncio.CancelledError:  # the worker died: the connection is gone
                self.aborted.set()
                raise
        return await super().handle_DATA(server, session, envelope)

    def message_ids(self) -> Counter:
        with self._cond:
            return Counter(message["Message-ID"] for message in self.messages)


def start_stalling_sink(accept_first: bool) -> StallingSink:
    try:
        from aiosmtpd.controller import Controller
    except ImportError:
        unavailable("aiosmtpd is not installed")
    sink = StallingSink(free_port(), accept_first)
    sink.controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    sink.controller.start()
    return sink


@pytest.fixture()
def processes(rq_app, database_url, redis_server):
    """`processes(smtp_url, cron=False)` starts a real worker (or the cron scheduler sweeping every 2 s)
    with OUTBOX_SWEEP_AFTER_SECONDS=3 and waits until it is ready; all are stopped after the test and
    their logs printed."""
    started: list[WorkerProcess] = []

    def start(smtp_url: str, *, cron: bool = False) -> WorkerProcess:
        command = [sys.executable, "-c", CRON_SWEEP_EVERY_2_SECONDS] if cron else None
        process = WorkerProcess(database_url, redis_server.url, smtp_url, cron=cron, command=command,
                                env={"OUTBOX_SWEEP_AFTER_SECONDS": str(SWEEP_AFTER_SECONDS)})
        started.append(process)
        process.start()
        process.wait_ready()
        return process

    yield start
    stop_workers(started)


def _queue(subjects: list[str], *, one_transaction: bool) -> list[int]:
    """Outbox rows with these subjects, committed one by one (a job each) or together (one batch job)."""
    from crm.extensions import db

    rows = []
    for n, subject in enumerate(subjects):
        rows.append(outbox.queue_email(f"kill{n}@client.example", subject, f"Письмо {n}."))
        if not one_transaction:
            db.session.commit()
    db.session.commit()
    return [row.id for row in rows]


def _rows(ids: list[int]) -> dict[int, EmailOutbox]:
    from crm.extensions import db

    db.session.rollback()
    return {row.id: row for row in db.session.scalars(
        select(EmailOutbox).where(EmailOutbox.id.in_(ids)).execution_options(populate_existing=True))}


def _kill_inside_the_stalled_job(worker: WorkerProcess, sink: StallingSink) -> None:
    if not sink.stalled.wait(60):
        pytest.fail(f"the worker never reached the stalled DATA:\n{worker.output()}")
    os.kill(worker.process.pid, signal.SIGKILL)
    worker.process.wait(timeout=10)
    assert worker.process.returncode == -signal.SIGKILL
    assert sink.aborted.wait(10), "the sink saw the connection drop"


def _all_sent(ids: list[int]) -> bool:
    return all(row.status == "sent" for row in _rows(ids).values())


@pytest.fixture()
def sink_factory():
    sinks: list[StallingSink] = []

    def make(accept_first: bool) -> StallingSink:
        sinks.append(start_stalling_sink(accept_first))
        return sinks[-1]

    yield make
    for sink in sinks:
        sink.controller.stop()


def test_email_whose_worker_was_killed_before_the_server_accepted_it_is_sent_once_by_the_next_worker(
        rq_app, processes, sink_factory):
    sink = sink_factory(accept_first=False)
    first = processes(sink.url)
    subjects = ["Первое", "Второе", f"Третье {SLOW_MARKER}", "Четвёртое", "Пятое"]
    ids = _queue(subjects, one_transaction=False)  # five jobs, run in order by the one worker

    _kill_inside_the_stalled_job(first, sink)
    rows = _rows(ids)
    assert [rows[i].status for i in ids] == ["sent", "sent", "sending", "pending", "pending"], \
        "the kill landed inside the third job; the last two jobs still wait in Redis"
    assert sorted(m["Subject"] for m in sink.messages) == ["Второе", "Первое"]

    processes(sink.url)              # a new worker: runs the two waiting jobs
    processes(sink.url, cron=True)   # the sweeper gives the interrupted claim back after 3 s
    wait_until(lambda: _all_sent(ids), timeout=60, message="every row to be sent")
    time.sleep(1.5)  # a duplicate, if any, would arrive now

    rows = _rows(ids)
    assert sink.message_ids() == Counter({rows[i].message_id: 1 for i in ids}), "every e-mail exactly once"
    assert sorted(m["Subject"] for m in sink.messages) == sorted(subjects)
    assert rows[ids[2]].attempts == 2, "the interrupted delivery counted as an attempt"
    assert [rows[i].attempts for i in ids if i != ids[2]] == [1, 1, 1, 1]
    print(f"\nworker killed before the server's acceptance: {len(ids)} e-mails, each received once "
          f"(the interrupted one re-sent by the sweeper, attempts 2)")


def test_email_accepted_just_before_the_kill_goes_out_again_with_the_same_message_id(
        rq_app, processes, sink_factory):
    sink = sink_factory(accept_first=True)
    first = processes(sink.url)
    subjects = ["Первое", "Второе", f"Третье {SLOW_MARKER}", "Четвёртое", "Пятое"]
    ids = _queue(subjects, one_transaction=True)  # one batch job for all five

    _kill_inside_the_stalled_job(first, sink)
    rows = _rows(ids)
    assert [rows[i].status for i in ids] == ["sent", "sent", "sending", "pending", "pending"], \
        "the batch claims one row at a time: the rows after the interrupted one are untouched"
    accepted = [m for m in sink.messages if SLOW_MARKER in m["Subject"]]
    assert len(accepted) == 1, "the server has the third message; the worker never heard its 250"

    processes(sink.url)
    processes(sink.url, cron=True)
    wait_until(lambda: _all_sent(ids), timeout=60, message="every row to be sent")
    time.sleep(1.5)

    rows = _rows(ids)
    interrupted = rows[ids[2]]
    expected = Counter({rows[i].message_id: 1 for i in ids})
    expected[interrupted.message_id] = 2
    assert sink.message_ids() == expected, \
        "the one message in the window arrives twice, every other once"
    copies = [m for m in sink.messages if SLOW_MARKER in m["Subject"]]
    assert copies[0]["Message-ID"] == copies[1]["Message-ID"] == interrupted.message_id, \
        "both copies carry the row's Message-ID, so the second is recognisable as the same message"
    assert len(set(sink.message_ids())) == len(ids), "counted by Message-ID, every e-mail exactly once"
    assert interrupted.attempts == 2
    print(f"\nworker killed after the server's acceptance, before the sent mark: {len(ids)} e-mails, "
          f"{sum(sink.message_ids().values())} messages received, {len(set(sink.message_ids()))} distinct "
          f"Message-IDs (the one in the window twice, same Message-ID)")
