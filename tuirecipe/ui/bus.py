"""The console's asyncio publish/subscribe bus, its run follower and its worker client.

No Textual here (DESIGN.md §3): panes subscribe to topics and publish commands; the
:class:`RunFollower` tails the run directories being watched and publishes what they
record; the :class:`WorkerClient` turns commands into processes and signals through the
core's :class:`~tuirecipe.runs.jobs.JobClient` (no module under ``ui/`` starts or signals
a process itself). The UI never trains in-process.

Delivery rules, per subscription:

* Every subscription has one bounded :class:`asyncio.Queue` (``maxsize``). When it is
  full the *oldest* message is dropped to make room and ``Subscription.dropped`` counts
  it, so a slow pane falls behind in what it shows, never in memory or in the loop.
* Coalesced topics (``"step"`` by default) are never queued one by one. Payloads pile up
  in the subscription and are delivered as **one** :class:`Message` whose ``payload`` is
  the ``list`` of payloads since the previous delivery (per topic and run), at most once
  per ``interval`` seconds (0.1 s: ten deliveries a second) and at most ``max_batch``
  items long, keeping the latest (``Message.dropped`` says how many older ones went).
* ``publish`` never blocks and never awaits: it is safe from any coroutine or callback
  running on the bus's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuirecipe.config import Config
from tuirecipe.errors import UserError
from tuirecipe.runs.follower import Follower
from tuirecipe.runs.jobs import Job, JobClient, Signalled
from tuirecipe.runs.rundir import TERMINAL_STATES, RunDir

log = logging.getLogger(__name__)

STEP_TOPIC = "step"
COMMAND_TOPIC = "command"  # payload: Command
RUN_STARTED_TOPIC = "run_started"  # payload: RunDir of a run this console launched
START_FAILED_TOPIC = "start_failed"  # payload: the one-line reason a start failed
NOTICE_TOPIC = "notice"  # payload: Notice, for people (notifications)
FOLLOW_POLL_SECONDS = 0.2
REAP_SECONDS = 1.0  # how often the worker client collects the processes that ended


@dataclass(frozen=True)
class Message:
    topic: str
    payload: Any  # an Event, a Command, a Notice … or a list of them on coalesced topics
    run_id: str | None = None
    dropped: int = 0  # coalesced topics: older payloads dropped from this batch


@dataclass(frozen=True)
class Command:
    """What a pane asks the worker client to do: start, stop, pause or resume a run."""

    action: str  # start | stop | pause | resume
    run_id: str | None = None
    config: Config | None = None
    motivation: str = ""
    job: str = "train"
    # Keys changed for this run against the console's config (the start dialog):
    # {"train.lr": [old, new]}, recorded in the run's meta.json beside the motivation.
    edits: dict[str, Any] | None = None


@dataclass(frozen=True)
class Notice:
    message: str
    severity: str = "information"  # information | warning | error


@dataclass
class _Pending:
    items: list[Any] = field(default_factory=list)
    dropped: int = 0


class Subscription:
    """One subscriber's view of the bus: ``await sub.get()`` or ``async for msg in sub``."""

    def __init__(self, bus: Bus, topics: frozenset[str], maxsize: int) -> None:
        self.bus = bus
        self.topics = topics
        self.queue: asyncio.Queue[Message] = asyncio.Queue(maxsize)
        self.dropped = 0
        self.closed = False
        self._pending: dict[tuple[str, str | None], _Pending] = {}
        self._flush: asyncio.TimerHandle | None = None
        self._last_flush = 0.0

    async def get(self) -> Message:
        return await self.queue.get()

    def get_nowait(self) -> Message:
        return self.queue.get_nowait()

    async def __aiter__(self) -> AsyncIterator[Message]:
        while not self.closed:
            yield await self.queue.get()

    def close(self) -> None:
        self.bus.unsubscribe(self)

    # -- delivery (called by the bus) ----------------------------------------------------
    def _put(self, message: Message) -> None:
        while True:
            try:
                self.queue.put_nowait(message)
                return
            except asyncio.QueueFull:
                with contextlib.suppress(asyncio.QueueEmpty):
                    self.queue.get_nowait()
                    self.dropped += 1

    def _add_coalesced(self, topic: str, run_id: str | None, payload: Any) -> None:
        pending = self._pending.setdefault((topic, run_id), _Pending())
        pending.items.append(payload)
        overflow = len(pending.items) - self.bus.max_batch
        if overflow > 0:
            del pending.items[:overflow]
            pending.dropped += overflow
        if self._flush is None:
            loop = asyncio.get_running_loop()
            wait = max(0.0, self._last_flush + self.bus.interval - loop.time())
            self._flush = loop.call_later(wait, self._deliver_pending)

    def _deliver_pending(self) -> None:
        self._flush = None
        if self.closed:
            return
        self._last_flush = asyncio.get_running_loop().time()
        pending, self._pending = self._pending, {}
        for (topic, run_id), batch in pending.items():
            self._put(Message(topic, batch.items, run_id, batch.dropped))

    def _cancel(self) -> None:
        self.closed = True
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        self._pending.clear()


class Bus:
    """Topics to subscriptions. Create it anywhere; use it on one event loop."""

    def __init__(
        self,
        *,
        maxsize: int = 512,
        coalesce: tuple[str, ...] = (STEP_TOPIC,),
        interval: float = 0.1,
        max_batch: int = 5000,
    ) -> None:
        self.maxsize = maxsize
        self.coalesce = frozenset(coalesce)
        self.interval = interval
        self.max_batch = max_batch
        self._subs: dict[str, list[Subscription]] = defaultdict(list)

    def subscribe(self, *topics: str, maxsize: int | None = None) -> Subscription:
        sub = Subscription(self, frozenset(topics), maxsize or self.maxsize)
        for topic in sub.topics:
            self._subs[topic].append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        for topic in sub.topics:
            with contextlib.suppress(ValueError):
                self._subs[topic].remove(sub)
        sub._cancel()

    def subscriber_count(self, topic: str) -> int:
        return len(self._subs.get(topic, ()))

    def publish(self, topic: str, payload: Any, run_id: str | None = None) -> None:
        subs = self._subs.get(topic)
        if not subs:
            return
        if topic in self.coalesce:
            for sub in subs:
                sub._add_coalesced(topic, run_id, payload)
        else:
            message = Message(topic, payload, run_id)
            for sub in subs:
                sub._put(message)

    def notify(self, message: str, severity: str = "information") -> None:
        self.publish(NOTICE_TOPIC, Notice(message, severity))


class RunFollower:
    """Polls the watched run directories and publishes each new event on ``event.kind``.

    Reading happens in a thread (attaching to a long run reads its whole history), the
    publishing on the loop. A worker that died without saying so is marked failed, which
    appends the failure to its events, so watchers see it like any other end; ``jobs``
    (shared with the :class:`WorkerClient`) names the signal that killed a worker this
    console started. A run is dropped from the watch list once it has ended and its last
    events are out.
    """

    def __init__(
        self, bus: Bus, interval: float = FOLLOW_POLL_SECONDS, jobs: JobClient | None = None
    ) -> None:
        self.bus = bus
        self.interval = interval
        self.jobs = jobs if jobs is not None else JobClient()
        self._watched: dict[str, Follower] = {}
        self._task: asyncio.Task[None] | None = None

    @property
    def watched(self) -> list[str]:
        return list(self._watched)

    def watch(self, run: RunDir | Path, from_start: bool = True) -> str:
        run = run if isinstance(run, RunDir) else RunDir(Path(run))
        if run.id not in self._watched:
            offset = 0 if from_start else run.events_path.stat().st_size
            self._watched[run.id] = Follower(run, offset)
        return run.id

    def watched_run(self, run_id: str) -> RunDir | None:
        """The run directory of a watched run, by id."""
        follower = self._watched.get(run_id)
        return follower.run if follower is not None else None

    def unwatch(self, run_id: str) -> None:
        self._watched.pop(run_id, None)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="follower")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def poll_once(self) -> int:
        """One pass over every watched run; returns how many events were published."""
        published = 0
        for run_id, follower in list(self._watched.items()):
            events, ended = await asyncio.to_thread(_read_new, follower, self.jobs)
            for event in events:
                self.bus.publish(event.kind, event, run_id)
            published += len(events)
            if ended:
                self._watched.pop(run_id, None)
        return published

    async def _loop(self) -> None:
        while True:
            try:
                await self.poll_once()
            except Exception:  # a broken run directory must not kill the follower
                log.exception("follower poll failed")
            await asyncio.sleep(self.interval)


def _read_new(follower: Follower, jobs: JobClient) -> tuple[list[Any], bool]:
    """New events, and whether the run has ended with nothing left to read."""
    events = follower.poll()
    if follower.run.read_status().get("state") not in TERMINAL_STATES:
        if not jobs.mark_dead_if_stale(follower.run):
            return events, False
        events += follower.poll()
    return events + follower.poll(), True


class WorkerClient:
    """The console's asyncio adapter over the core's :class:`JobClient`.

    Handles ``Command`` messages (start, stop, pause, resume) and the panes' direct
    requests (a check job, a sweep); blocking work runs in threads and problems become
    notices, never exceptions in the loop. It reaps the processes this console started
    every ``REAP_SECONDS`` and says when a sweep ends. ``started_here`` and
    ``running_here`` let quitting ask whether to stop what is still running.
    """

    def __init__(self, bus: Bus, follower: RunFollower, jobs: JobClient | None = None) -> None:
        self.bus = bus
        self.follower = follower
        self.jobs = jobs if jobs is not None else follower.jobs
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._reaper: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.start_timeout = 120.0  # seconds a worker may take to import torch and start

    def start(self) -> None:
        if self._task is None:
            loop = asyncio.get_running_loop()
            self._sub = self.bus.subscribe(COMMAND_TOPIC)
            self._task = loop.create_task(self._loop(), name="workers")
            self._reaper = loop.create_task(self._reap_loop(), name="reaper")

    async def stop(self) -> None:
        if self._sub is not None:
            self._sub.close()
        for task in list(self._tasks):
            task.cancel()
        for loop_task in (self._task, self._reaper):
            if loop_task is not None:
                loop_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await loop_task
        self._task = self._reaper = None

    # -- what this console started -------------------------------------------------------
    @property
    def started_here(self) -> dict[str, RunDir]:
        """Runs whose worker this console started, by id."""
        return {job.run.id: job.run for job in self.jobs.jobs() if job.run is not None}

    def running_here(self) -> list[RunDir]:
        """Runs launched from this console that have not ended."""
        return self.jobs.running_runs()

    def tune_running_here(self) -> list[Job]:
        """Sweeps (and other tuning processes) started from this console still running."""
        return self.jobs.running_tune()

    def stop_now(self, runs: list[RunDir], tune: list[Job]) -> list[RunDir]:
        """Signal stop at once (quitting: the loop is about to end) to ``runs`` and
        ``tune``; returns the runs whose worker is still starting, not signalled yet."""
        starting = []
        for run in runs:
            result = self.jobs.control(run, "stop")
            if result is Signalled.STARTING:
                starting.append(run)
            elif result is Signalled.NO_WORKER:
                log.warning("run %s had no live worker to stop", run.id)
        for job in tune:
            self.jobs.stop_tune(job)
        return starting

    async def stop_when_started(self, runs: list[RunDir]) -> None:
        """Stop runs whose workers are still starting, each once it can take the signal."""
        await asyncio.gather(*(self._control(run, "stop") for run in runs))

    # -- commands ------------------------------------------------------------------------
    async def _loop(self) -> None:
        assert self._sub is not None
        async for message in self._sub:
            # Each command runs on its own: a stop waiting for a slow start blocks nothing.
            task = asyncio.get_running_loop().create_task(self._handle_reporting(message))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _reap_loop(self) -> None:
        while True:
            await asyncio.sleep(REAP_SECONDS)
            for job in self.jobs.reap():
                if job.kind == "tune":
                    self._tune_ended(job)

    def _tune_ended(self, job: Job) -> None:
        status = job.exit_status
        if status == 0:
            self.bus.notify(f"{job.label}: done; its runs are in the Runs pane")
        else:
            self.bus.notify(
                f"{job.label}: ended with exit status {status}; see {job.log_path}", "warning"
            )

    async def _handle_reporting(self, message: Message) -> None:
        try:
            await self.handle(message.payload)
        except Exception as exc:  # report, keep serving commands
            log.exception("command failed")
            self.bus.notify(f"{type(exc).__name__}: {exc}", "error")

    async def handle(self, command: Command) -> RunDir | None:
        if command.action == "start":
            return await self._start(command)
        if command.action in ("stop", "pause", "resume"):
            run = self._run(command.run_id)
            if run is None:
                self.bus.notify(f"no run to {command.action}", "warning")
                return None
            result = await self._control(run, command.action)
            if result is Signalled.STARTING:
                self.bus.notify(
                    f"run {run.id} did not start; nothing to {command.action}", "warning"
                )
            elif result is Signalled.NO_WORKER:
                self.bus.notify(f"run {run.id} has no live worker to {command.action}", "warning")
            return run
        self.bus.notify(f"unknown command '{command.action}'", "error")
        return None

    async def _control(self, run: RunDir, action: str) -> Signalled:
        """Signal ``run``'s worker, waiting while it is still starting up (``created``):
        until it has installed its signal handlers, SIGUSR1/SIGTERM would kill it
        outright instead of pausing or stopping it cleanly."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.start_timeout
        while True:
            result = await asyncio.to_thread(self.jobs.control, run, action)
            if result is not Signalled.STARTING or loop.time() > deadline:
                return result
            await asyncio.sleep(0.1)

    def _run(self, run_id: str | None) -> RunDir | None:
        if run_id is None:
            return None
        job = self.jobs.job_for(run_id)
        if job is not None and job.run is not None:
            return job.run
        return self.follower.watched_run(run_id)

    async def _start(self, command: Command) -> RunDir | None:
        if command.config is None:
            self.bus.notify("no config to start a run with", "error")
            return None
        try:
            run = await self.start_job(
                command.config, command.job, motivation=command.motivation, edits=command.edits
            )
        except Exception as exc:  # a user error, or ours: either way the console goes on
            if not isinstance(exc, UserError):
                log.exception("launching a run failed")
            reason = str(exc) if isinstance(exc, UserError) else f"{type(exc).__name__}: {exc}"
            self.bus.notify(f"run not started: {reason}", "error")
            self.bus.publish(START_FAILED_TOPIC, reason)
            return None
        self.bus.publish(RUN_STARTED_TOPIC, run, run.id)
        return run

    async def start_job(
        self,
        config: Config,
        job: str = "train",
        *,
        motivation: str = "",
        args: dict[str, Any] | None = None,
        edits: dict[str, Any] | None = None,
    ) -> RunDir:
        """Start a worker for ``job`` and follow its run; raises what starting raised.

        Not announced on ``run_started`` (the Train pane follows what is): a pane that
        starts a job of its own (the Checks pane) keeps the run this returns.
        """
        started = await asyncio.to_thread(
            self.jobs.start, config, job, motivation=motivation, args=args, edits=edits
        )
        assert started.run is not None
        self.follower.watch(started.run)
        return started.run

    async def resume_run(self, run: RunDir) -> RunDir:
        """Continue a failed or stopped run from its checkpoint in its own run directory
        (:meth:`JobClient.resume`) and follow it; raises what resuming raised (a
        ``RunError`` saying why it cannot)."""
        started = await asyncio.to_thread(self.jobs.resume, run)
        assert started.run is not None
        self.follower.watch(started.run)
        return started.run

    async def start_tune(self, config: Config, command: str, options: list[str], label: str) -> Job:
        """Start a detached tuning process (``tuirecipe sweep …``); raises on failure."""
        return await asyncio.to_thread(self.jobs.start_tune, config, command, options, label)

    def remember(self, run: RunDir) -> None:
        """A run to resolve by id for stop/pause/resume (e.g. one attached from the list)."""
        self.follower.watch(run)
