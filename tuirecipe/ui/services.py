"""The services a pane is given: the bus, the run follower and the job client.

Panes receive one :class:`Services` when they are built (the App makes it), instead of
reaching into the App for them.
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
