"""The console's asyncio publish/subscribe bus, its run follower and its worker client.

No Textual here (DESIGN.md §3): panes subscribe to topics and publish commands; the
:class:`RunFollower` tails the run directories being watched and publishes what they
record; the :class:`WorkerClient` turns commands into worker processes and signals. The
UI never trains in-process.

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
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuirecipe.config import Config
from tuirecipe.errors import UserError
from tuirecipe.runs.follower import Follower
from tuirecipe.runs.rundir import TERMINAL_STATES, RunDir

log = logging.getLogger(__name__)

STEP_TOPIC = "step"
COMMAND_TOPIC = "command"  # payload: Command
RUN_STARTED_TOPIC = "run_started"  # payload: RunDir of a run this console launched
START_FAILED_TOPIC = "start_failed"  # payload: the one-line reason a start failed
NOTICE_TOPIC = "notice"  # payload: Notice, for people (notifications)
FOLLOW_POLL_SECONDS = 0.2


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
    appends the failure to its events, so watchers see it like any other end. A run is
    dropped from the watch list once it has ended and its last events are out.
    """

    def __init__(self, bus: Bus, interval: float = FOLLOW_POLL_SECONDS) -> None:
        self.bus = bus
        self.interval = interval
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
            events, ended = await asyncio.to_thread(_read_new, follower)
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


def _read_new(follower: Follower) -> tuple[list[Any], bool]:
    """New events, and whether the run has ended with nothing left to read."""
    events = follower.poll()
    if follower.run.read_status().get("state") not in TERMINAL_STATES:
        if not follower.run.mark_dead_if_stale():
            return events, False
        events += follower.poll()
    return events + follower.poll(), True


class WorkerClient:
    """Handles ``Command`` messages: launches workers and signals them; never trains.

    ``started_here`` holds the runs this console launched, so quitting can ask whether to
    stop the ones still training. Problems become notices, never exceptions in the loop.
    """

    def __init__(
        self,
        bus: Bus,
        follower: RunFollower,
        launcher: Callable[..., tuple[RunDir, Any]] | None = None,
    ) -> None:
        self.bus = bus
        self.follower = follower
        self._launcher = launcher
        self.started_here: dict[str, RunDir] = {}
        self._procs: dict[str, Any] = {}
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.start_timeout = 120.0  # seconds a worker may take to import torch and start

    def start(self) -> None:
        if self._task is None:
            self._sub = self.bus.subscribe(COMMAND_TOPIC)
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="workers")

    async def stop(self) -> None:
        if self._sub is not None:
            self._sub.close()
        for task in list(self._tasks):
            task.cancel()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def running_here(self) -> list[RunDir]:
        """Runs launched from this console that have not ended."""
        for proc in self._procs.values():
            proc.poll()  # reap finished workers so their pids stop answering
        return [run for run in self.started_here.values() if run.state() not in TERMINAL_STATES]

    async def _loop(self) -> None:
        assert self._sub is not None
        async for message in self._sub:
            # Each command runs on its own: a stop waiting for a slow start blocks nothing.
            task = asyncio.get_running_loop().create_task(self._handle_reporting(message))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

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
            if not await self._wait_until_started(run):
                self.bus.notify(
                    f"run {run.id} did not start; nothing to {command.action}", "warning"
                )
            elif not await asyncio.to_thread(_send_control, run, command.action):
                self.bus.notify(f"run {run.id} has no live worker to {command.action}", "warning")
            return run
        self.bus.notify(f"unknown command '{command.action}'", "error")
        return None

    async def _wait_until_started(self, run: RunDir) -> bool:
        """Wait while the worker is still starting up (``created``).

        Until the worker has installed its signal handlers, SIGUSR1/SIGTERM would kill it
        outright instead of pausing or stopping it cleanly; it leaves ``created`` after.
        """
        deadline = asyncio.get_running_loop().time() + self.start_timeout
        while run.read_status().get("state") == "created":
            if run.state() in TERMINAL_STATES or asyncio.get_running_loop().time() > deadline:
                return False
            await asyncio.sleep(0.1)
        return True

    def _run(self, run_id: str | None) -> RunDir | None:
        if run_id is None:
            return None
        if run_id in self.started_here:
            return self.started_here[run_id]
        for follower in self.follower._watched.values():
            if follower.run.id == run_id:
                return follower.run
        return None

    async def _start(self, command: Command) -> RunDir | None:
        if command.config is None:
            self.bus.notify("no config to start a run with", "error")
            return None
        launcher = self._launcher or _launch
        try:
            run, proc = await asyncio.to_thread(
                launcher, command.config, command.job, motivation=command.motivation
            )
        except Exception as exc:  # a user error, or ours: either way the console goes on
            if not isinstance(exc, UserError):
                log.exception("launching a run failed")
            reason = str(exc) if isinstance(exc, UserError) else f"{type(exc).__name__}: {exc}"
            self.bus.notify(f"run not started: {reason}", "error")
            self.bus.publish(START_FAILED_TOPIC, reason)
            return None
        self.started_here[run.id] = run
        self._procs[run.id] = proc
        self.follower.watch(run)
        self.bus.publish(RUN_STARTED_TOPIC, run, run.id)
        return run

    def remember(self, run: RunDir) -> None:
        """A run to resolve by id for stop/pause/resume (e.g. one attached from the list)."""
        self.follower.watch(run)


def _launch(config: Config, job: str, **kwargs: Any) -> tuple[RunDir, Any]:
    from tuirecipe.runs.launch import launch

    return launch(config, job, **kwargs)


def _send_control(run: RunDir, action: str) -> bool:
    from tuirecipe.runs.launch import send_control

    return send_control(run, action)
