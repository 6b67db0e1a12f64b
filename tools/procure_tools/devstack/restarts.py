"""When ``procure up`` starts a service again after it exited unexpectedly: at once the first
time is too eager (a crash on start would spin), never is too timid (one crash would take the
whole stack down). So: after a delay that doubles each time, and not at all once the service has
exited ``limit`` times within ``window`` seconds."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Restarts"]


@dataclass
class Restarts:
    limit: int = 5
    window: float = 60.0
    first_delay: float = 1.0
    max_delay: float = 30.0
    exits: list[float] = field(default_factory=list)

    def after_exit(self, now: float) -> float | None:
        """Record an exit at ``now`` (seconds, any monotonic clock): the delay before starting
        the service again, or ``None`` when it exits too often to go on."""
        self.exits = [t for t in self.exits if now - t < self.window] + [now]
        if len(self.exits) >= self.limit:
            return None
        return min(self.first_delay * 2.0 ** (len(self.exits) - 1), self.max_delay)
