"""The services a pane is given: the bus, the run follower and the job client.

Panes receive one :class:`Services` when they are built, instead of reaching into the App
for them; a pane built in a test gets the same object, made from a bus of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from tuirecipe.ui.bus import Bus, RunFollower, WorkerClient


@dataclass(frozen=True)
class Services:
    """What panes use to hear about runs and to ask for jobs.

    ``bus``: publish commands, subscribe to run events. ``follower``: tails the run
    directories being watched. ``jobs``: the client that starts, signals and reaps the
    worker processes (runs started from this console are in ``jobs.started_here``).
    """

    bus: Bus
    follower: RunFollower
    jobs: WorkerClient

    @classmethod
    def create(cls) -> Services:
        """A bus, a follower feeding it and a job client serving its commands."""
        bus = Bus()
        follower = RunFollower(bus)
        return cls(bus=bus, follower=follower, jobs=WorkerClient(bus, follower))
