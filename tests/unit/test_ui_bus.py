"""The console bus without Textual: fan-out, bounds, coalescing, following, commands."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from support.waiting import wait_for

from tuirecipe.events import EvalMetrics, RunStatus, StepMetrics
from tuirecipe.runs.rundir import EventWriter, RunDir, create_run_dir
from tuirecipe.ui.bus import (
    COMMAND_TOPIC,
    NOTICE_TOPIC,
    RUN_STARTED_TOPIC,
    Bus,
    Command,
    RunFollower,
    WorkerClient,
)


def step(n: int) -> StepMetrics:
    return StepMetrics(step=n, epoch=0.0, loss=1.0 / (n + 1), lr=1e-3)


async def drain(sub, timeout: float = 0.05) -> list:
    out = []
    while True:
        try:
            out.append(await asyncio.wait_for(sub.get(), timeout))
        except TimeoutError:
            return out


async def test_fan_out_to_every_subscriber_of_a_topic():
    bus = Bus()
    a, b, other = bus.subscribe("status"), bus.subscribe("status", "eval"), bus.subscribe("log")
    bus.publish("status", RunStatus(state="running"), run_id="r1")
    for sub in (a, b):
        msg = await asyncio.wait_for(sub.get(), 1)
        assert (msg.topic, msg.run_id, msg.payload.state) == ("status", "r1", "running")
    assert other.queue.empty()


async def test_a_full_queue_drops_the_oldest_and_counts_it():
    bus = Bus()
    sub = bus.subscribe("log", maxsize=3)
    for i in range(10):
        bus.publish("log", i)
    got = [m.payload for m in await drain(sub)]
    assert got == [7, 8, 9]
    assert sub.dropped == 7


async def test_unsubscribe_stops_delivery_and_pending_batches():
    bus = Bus(interval=0.05)
    sub = bus.subscribe("status", "step")
    bus.publish("step", step(1))
    sub.close()
    bus.publish("status", RunStatus(state="running"))
    await asyncio.sleep(0.1)  # not synchronisation: past the interval, nothing was delivered
    assert sub.queue.empty()
    assert bus.subscriber_count("status") == 0 and bus.subscriber_count("step") == 0


async def test_a_flood_of_step_events_is_coalesced_into_few_batches():
    bus = Bus(interval=0.1, max_batch=1000)
    sub = bus.subscribe("step")
    loop = asyncio.get_running_loop()
    start = loop.time()
    for chunk in range(10):  # 100k events, in ten bursts with the loop free in between
        for i in range(10_000):
            bus.publish("step", step(chunk * 10_000 + i), run_id="r1")
        await asyncio.sleep(0.02)  # not synchronisation: bursts spread out in time
    messages = await drain(sub, timeout=0.3)
    elapsed = loop.time() - start
    assert messages, "nothing delivered"
    assert all(isinstance(m.payload, list) and m.topic == "step" for m in messages)
    # At most one delivery per interval (plus the first, which goes at once).
    assert len(messages) <= elapsed / 0.1 + 2
    assert all(len(m.payload) <= 1000 for m in messages)
    # Every delivery keeps the latest steps; the very last step always arrives.
    assert messages[-1].payload[-1].step == 99_999
    delivered = sum(len(m.payload) for m in messages)
    assert delivered + sum(m.dropped for m in messages) == 100_000


async def test_coalesced_batches_are_kept_apart_per_run():
    bus = Bus(interval=0.01)
    sub = bus.subscribe("step")
    bus.publish("step", step(1), run_id="a")
    bus.publish("step", step(2), run_id="b")
    bus.publish("step", step(3), run_id="a")
    messages = await drain(sub)
    by_run = {m.run_id: [s.step for s in m.payload] for m in messages}
    assert by_run == {"a": [1, 3], "b": [2]}


def _run_dir(tmp_path: Path) -> RunDir:
    run = create_run_dir(tmp_path, "t")
    run.events_path.touch()
    run.write_status(state="running", pid=None)
    return run


async def test_follower_publishes_appended_lines_and_a_half_line_once_complete(tmp_path):
    bus = Bus()
    steps, status = bus.subscribe("step"), bus.subscribe("status", "eval")
    follower = RunFollower(bus)
    run = _run_dir(tmp_path)
    follower.watch(run)
    writer = EventWriter(run.events_path)
    writer.write(RunStatus(state="running"))
    writer.write(step(1))
    assert await follower.poll_once() == 2
    ev = EvalMetrics(step=1, epoch=0.1, split="dev", metrics={"loss": 0.5})
    line = ev.to_json()
    with open(run.events_path, "a", encoding="utf-8") as handle:
        handle.write(line[:10])  # a write in progress
    assert await follower.poll_once() == 0
    with open(run.events_path, "a", encoding="utf-8") as handle:
        handle.write(line[10:] + "\n")
    assert await follower.poll_once() == 1
    got = await drain(status)
    assert [m.topic for m in got] == ["status", "eval"]
    assert got[1].payload.metrics == {"loss": 0.5} and got[1].run_id == run.id
    batches = await drain(steps, timeout=0.2)
    assert [s.step for m in batches for s in m.payload] == [1]
    writer.close()


async def test_follower_task_runs_on_its_own_and_drops_ended_runs(tmp_path):
    bus = Bus()
    sub = bus.subscribe("status")
    follower = RunFollower(bus, interval=0.02)
    run = _run_dir(tmp_path)
    follower.watch(run)
    follower.start()
    try:
        writer = EventWriter(run.events_path)
        writer.write(RunStatus(state="finished"))
        writer.close()
        run.write_status(state="finished")
        msg = await asyncio.wait_for(sub.get(), 2)
        assert msg.payload.state == "finished"
        await wait_for(None, lambda: not follower.watched, 5)
        assert follower.watched == []
    finally:
        await follower.stop()


async def test_follower_marks_a_dead_worker_failed(tmp_path):
    bus = Bus()
    sub = bus.subscribe("status", "error")
    follower = RunFollower(bus)
    run = _run_dir(tmp_path)
    run.write_status(state="running", pid=2**22 + 12345)  # no such process
    follower.watch(run)
    await follower.poll_once()
    kinds = [m.topic for m in await drain(sub)]
    assert kinds == ["error", "status"]
    assert run.read_status()["state"] == "failed"
    # … recorded beside status.json, whose one writer is the worker: a reader never writes it
    assert json.loads(run.status_path.read_text())["state"] == "running"


class FakeWorker:
    """A worker process that is alive when looked at and gone when signalled."""

    pid = 2**22 + 12345

    def poll(self):
        return None

    def send_signal(self, sig):
        raise ProcessLookupError


async def test_worker_client_launches_on_a_start_command_and_follows_the_run(tmp_path):
    from tuirecipe.config import config_from_dict
    from tuirecipe.runs.jobs import JobClient

    launched = []

    def fake_spawn(argv, **options):
        run = RunDir(Path(argv[-1]))
        meta = run.read_meta()
        launched.append((meta["job"], meta["motivation"]))
        run.write_status(state="running")  # as the worker does once it has started
        return FakeWorker()

    bus = Bus()
    jobs = JobClient(spawn=fake_spawn)
    follower = RunFollower(bus, jobs=jobs)
    client = WorkerClient(bus, follower)
    started = bus.subscribe(RUN_STARTED_TOPIC)
    notices = bus.subscribe(NOTICE_TOPIC)
    client.start()
    try:
        config = config_from_dict({"runs_dir": str(tmp_path)})
        bus.publish(COMMAND_TOPIC, Command("start", config=config, motivation="why not"))
        msg = await asyncio.wait_for(started.get(), 2)
        assert launched == [("train", "why not")]
        assert msg.run_id in follower.watched and msg.run_id in client.started_here
        assert [r.id for r in client.running_here()] == [msg.run_id]
        # The fake run has no worker pid: stop reports that instead of raising.
        bus.publish(COMMAND_TOPIC, Command("stop", run_id=msg.run_id))
        notice = await asyncio.wait_for(notices.get(), 2)
        assert "no live worker" in notice.payload.message
    finally:
        await client.stop()


async def test_worker_client_reports_a_user_error_as_a_notice(tmp_path):
    from tuirecipe.config import config_from_dict
    from tuirecipe.errors import ConfigError
    from tuirecipe.runs.jobs import JobClient
    from tuirecipe.runs.listing import list_runs

    def bad_spawn(argv, **options):
        raise ConfigError("nope", key="data.path")

    bus = Bus()
    client = WorkerClient(bus, RunFollower(bus), jobs=JobClient(spawn=bad_spawn))
    notices = bus.subscribe(NOTICE_TOPIC)
    await client.handle(Command("start", config=config_from_dict({"runs_dir": str(tmp_path)})))
    msg = await asyncio.wait_for(notices.get(), 1)
    assert msg.payload.severity == "error" and "data.path" in msg.payload.message
    assert client.started_here == {}
    # The run prepared for it says it failed, rather than waiting for a worker forever.
    (run,) = list_runs(tmp_path)
    assert run.state == "failed"


async def test_control_waits_until_the_worker_has_started(tmp_path):
    """A signal sent while the worker is still importing would kill it, not stop it."""
    import signal
    import subprocess

    from tuirecipe.runs.jobs import worker_identity

    proc = subprocess.Popen(["sleep", "30"])
    try:
        run = _run_dir(tmp_path)
        # The worker's own record of itself: only a process that matches it is signalled.
        run.write_status(state="created", run=run.id, **worker_identity(proc.pid))
        bus = Bus()
        follower = RunFollower(bus)
        client = WorkerClient(bus, follower)
        follower.watch(run)
        client.start()
        bus.publish(COMMAND_TOPIC, Command("stop", run_id=run.id))
        await asyncio.sleep(0.4)  # not synchronisation: a while passes, and no signal is sent
        assert proc.poll() is None  # held back while "created"
        run.write_status(state="running")
        await wait_for(None, lambda: proc.poll() is not None, 5, "the stop signal")
        assert proc.returncode == -signal.SIGTERM
        await client.stop()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
