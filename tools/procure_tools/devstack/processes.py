"""What ``procure up`` needs to know of the machine's processes and ports (Linux's ``/proc``):
children that die with their supervisor, the identity of a process across pid reuse, and who
holds a port."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "Listed",
    "dies_with_parent",
    "end_processes",
    "holder_of",
    "listed",
    "port_taken",
    "started_at",
]

_PR_SET_PDEATHSIG = 1


def dies_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None]:
    """A ``preexec_fn``: the child gets ``sig`` when the process that started it dies, even by
    ``kill -9`` (Linux's PR_SET_PDEATHSIG, kept across exec and set after any change of user).
    A parent already gone by then ends the child at once. What the child runs is looked up here,
    in the parent: after a fork in a process with threads, the child may only make calls."""
    parent = os.getpid()
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def arm() -> None:
        prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if os.getppid() != parent:
            # Not os.kill(self, sig): the child still has the parent's Python handlers.
            os._exit(1)

    return arm


def started_at(pid: int) -> int | None:
    """When ``pid`` started (clock ticks since boot: field 22 of /proc/<pid>/stat); ``None``
    when there is no such process. With the pid it names one process, whatever reuses pids."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command (field 2) is in parentheses and may hold spaces: count after its end.
    return int(text[text.rindex(")") + 2 :].split()[19])


@dataclass(frozen=True)
class Listed:
    """A process ``procure up`` started, as its pid file records it."""

    pid: int
    started: int
    what: str

    def line(self) -> str:
        return f"{self.pid} {self.started} {self.what}"

    def alive(self) -> bool:
        return started_at(self.pid) == self.started


def listed(text: str) -> list[Listed]:
    """The processes of a pid file (``pid start what`` a line); lines that are not such a line
    (a file cut short by a crash) are passed over."""
    found = []
    for line in text.splitlines():
        parts = line.split(maxsplit=2)
        if len(parts) == 3 and parts[0].isdigit() and parts[1].isdigit():
            found.append(Listed(int(parts[0]), int(parts[1]), parts[2]))
    return found


def end_processes(
    processes: list[Listed],
    *,
    grace: float = 5.0,
    signal_of: Callable[[Listed], int] = lambda _: signal.SIGTERM,
) -> list[Listed]:
    """Its stop signal (``signal_of``) to each process that is still the one listed, SIGKILL
    to what outlives ``grace`` seconds; returns those that were still running."""
    running = [p for p in processes if p.alive()]
    for process in running:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(process.pid, signal_of(process))
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(p.alive() for p in running):
        time.sleep(0.05)
    for process in running:
        if process.alive():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(process.pid, signal.SIGKILL)
    return running


def port_taken(port: int) -> bool:
    """Whether something listens on 127.0.0.1:``port`` (or holds it so that a server could
    not bind it). Connections closing there (TIME_WAIT) do not count: servers bind with
    SO_REUSEADDR, as this does."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def holder_of(port: int) -> str | None:
    """Which process holds the TCP ``port`` (``pid 123 (nats-server -c ...)``), where this
    user may see it; ``None`` when it cannot be known."""
    inodes = _socket_inodes(port)
    if not inodes:
        return None
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    return f"pid {entry.name} ({_command(entry)})"
        except OSError:
            continue
    return "a process of another user" if os.geteuid() != 0 else None


def _socket_inodes(port: int) -> set[str]:
    """The inodes of the TCP sockets bound to ``port`` (any address, listening or not)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port:
                    found.add(fields[9])
    found.discard("0")  # a connection in TIME_WAIT: no process holds it
    return found


def _command(proc: Path) -> str:
    words = (proc / "cmdline").read_bytes().split(b"\0")
    command = " ".join(w.decode(errors="replace") for w in words if w)
    return command if len(command) <= 80 else command[:77] + "..."
