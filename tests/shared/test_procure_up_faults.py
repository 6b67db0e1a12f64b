"""`procure up` as people's machines treat it: killed with -9, a service crashing once or
again and again, a port taken, a service run by hand, a half-written `.procure/`, and the
`procure` commands finding the stack (or saying fast that it is not there). Real processes,
real signals, embedded servers on free ports in a scratch checkout that is removed afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from procure_tools.devstack import free_port
from procure_tools.devstack.processes import listed

from tests.support.ports import free_port_run
from tests.support.servers import scratch_dir, seed_in, session_credentials
from tests.support.wait import ready, until

SERVICES = ("contracts", "providers", "notifications")

# procure status as the cli identity, with the session's seed
AS_CLI = ["--nats-credentials", seed_in(session_credentials(), "cli")]


@dataclass
class Up:
    checkout: Path
    process: subprocess.Popen[bytes]
    output: Path
    env: dict[str, str]
    base: int  # the contracts service's port; providers and notifications follow

    @property
    def state(self) -> Path:
        return self.checkout / ".procure"

    def said(self) -> str:
        return self.output.read_text(errors="replace")

    def pids(self) -> dict[str, int]:
        return {p.what: p.pid for p in listed((self.state / "up.pids").read_text())}

    def port(self, service: str) -> int:
        return self.base + SERVICES.index(service)

    def all_ready(self) -> bool:
        return all(ready(self.base + n) for n in range(3))

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """A ``procure`` command run in the checkout, as a user runs it there."""
        return subprocess.run(
            [sys.executable, "-m", "procure_tools.cli", *args],
            cwd=self.checkout,
            env=self.env | {"COLUMNS": "250"},
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def _checkout() -> Path:
    checkout = scratch_dir("procure-up-")
    (checkout / "services").mkdir()
    (checkout / "pyproject.toml").write_text("")
    return checkout


def _environment(base: int, **extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PROCURE_", "DATABASE_", "NATS_"))
    }
    return env | {
        # Where PostgreSQL's data goes when nobody may not reach the checkout (as root): a
        # scratch folder, removed with the session.
        "TMPDIR": str(scratch_dir("procure-tmp-")),
        "PROCURE_DEV_HTTP_PORT": str(base),
        "PROCURE_DEV_POSTGRES_PORT": str(free_port()),
        "PROCURE_DEV_NATS_PORT": str(free_port()),
        "PROCURE_DEV_SMTP_PORT": str(free_port()),
        **extra,
    }


def _start(checkout: Path, env: dict[str, str], *args: str) -> tuple[subprocess.Popen[bytes], Path]:
    output = checkout / f"up-{time.monotonic_ns()}.out"
    with output.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "procure_tools.cli", "up", *args],
            cwd=checkout,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return process, output


@contextlib.contextmanager
def procure_up(*args: str, **extra: str) -> Iterator[Up]:
    """``procure up`` in a scratch checkout on free ports; everything it started is ended and
    the checkout removed afterwards, whatever the test did."""
    checkout = _checkout()
    base = free_port_run(3)
    env = _environment(base, **extra)
    process, output = _start(checkout, env, *args)
    up = Up(checkout, process, output, env, base)
    try:
        yield up
    finally:
        _end(up)


def _end(up: Up) -> None:
    if up.process.poll() is None:
        up.process.send_signal(signal.SIGINT)
        try:
            up.process.wait(15)
        except subprocess.TimeoutExpired:
            up.process.kill()
            up.process.wait()
    with contextlib.suppress(FileNotFoundError):
        for process in listed((up.state / "up.pids").read_text()):
            if process.alive():
                os.kill(process.pid, signal.SIGKILL)
    link = up.state / "postgres"
    if link.is_symlink():
        shutil.rmtree(Path(os.readlink(link)).parent, ignore_errors=True)
    shutil.rmtree(up.checkout, ignore_errors=True)


def _running(up: Up) -> None:
    try:
        until(
            lambda: up.all_ready() and "Procure is running" in up.said(),
            within=180,
            interval=0.5,
            what="procure up ready with its summary",
            unless=lambda: up.process.poll() is not None,
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}; procure up said:\n{up.said()[-3000:]}") from None


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie (exited, not yet reaped by its parent) is gone for our purpose.
    return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"


def test_a_port_in_use_stops_procure_up_before_it_starts_anything() -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        with procure_up(PROCURE_DEV_SMTP_PORT=str(port)) as up:
            started = time.monotonic()
            assert up.process.wait(30) == 1
            said = up.said()
            assert f"port {port} (the development mailbox) is in use by pid {os.getpid()}" in said
            assert "set PROCURE_DEV_SMTP_PORT to a free port" in said
            assert "Traceback" not in said
            assert not (up.state / "postgres").exists(), "nothing was started"
            print(f"refused in {time.monotonic() - started:.1f} s")


def test_procure_status_says_in_one_line_within_5_s_that_nats_does_not_answer() -> None:
    with socket.socket() as silent:  # takes connections (the kernel's backlog), never speaks
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"nats://127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        shown = subprocess.run(
            [sys.executable, "-m", "procure_tools.cli", "status", "--nats", url, *AS_CLI],
            capture_output=True,
            text=True,
            timeout=30,
        )
        took = time.monotonic() - started
    assert shown.returncode == 2
    assert shown.stderr.strip().splitlines() == [f"NATS at {url} did not answer within 2.5 s"]
    assert took < 5, f"{took:.1f} s"


def test_every_command_says_at_once_that_a_service_is_not_there() -> None:
    port = free_port()  # nothing listens there
    out = scratch_dir("procure-export-")
    for args in (
        ["ocds", "export", "--out", str(out), "--url", f"http://127.0.0.1:{port}", "--token", "t"],
        ["status", "--nats", f"nats://127.0.0.1:{port}", *AS_CLI],
    ):
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "procure_tools.cli", *args],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 2, done.stdout + done.stderr
        assert "Traceback" not in done.stderr
        assert time.monotonic() - started < 5, args


@pytest.mark.slow
def test_a_service_left_out_runs_by_hand_against_the_stack() -> None:
    with procure_up("--without", "notifications") as up:

        def waiting() -> bool:
            return up.said().count("procure serve notifications` in another terminal") == 1

        until(
            waiting,
            within=120,
            what="procure up waiting for notifications",
            unless=lambda: up.process.poll() is not None,
        )
        # Ctrl-C while it waits (or at any step of its start) stops it, and all it started.
        children = [pid for what, pid in up.pids().items() if what != "procure up"]
        up.process.send_signal(signal.SIGINT)
        assert up.process.wait(15) == 0, up.said()[-2000:]
        assert all(_gone(pid) for pid in children)
        up.process, up.output = _start(up.checkout, up.env, "--without", "notifications")
        until(
            waiting,
            within=120,
            what="procure up waiting for notifications again",
            unless=lambda: up.process.poll() is not None,
        )
        assert not ready(up.port("notifications"))
        refused = up.cli("serve", "contracts")
        assert refused.returncode == 2
        assert "runs contracts itself" in refused.stderr
        by_hand = subprocess.Popen(
            [sys.executable, "-m", "procure_tools.cli", "serve", "notifications"],
            cwd=up.checkout,
            env=up.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _running(up)
            assert "notifications is yours (procure serve notifications)" in up.said()
            by_hand.send_signal(signal.SIGTERM)
            assert by_hand.wait(15) == 0
        finally:
            if by_hand.poll() is None:
                by_hand.kill()
                by_hand.wait()


def test_procure_serve_without_a_stack_says_how_to_start_one() -> None:
    checkout = _checkout()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "procure_tools.cli", "serve", "contracts"],
            cwd=checkout,
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        shutil.rmtree(checkout)
    assert done.returncode == 2
    assert "make up WITHOUT=contracts" in done.stderr


def test_a_data_folder_postgres_may_not_use_is_one_line() -> None:
    checkout = _checkout()
    data = checkout / ".procure" / "postgres"
    data.mkdir(parents=True)
    (data / "PG_VERSION").write_text("18\n")
    data.chmod(0)
    base = free_port_run(3)
    env = _environment(base)
    process, output = _start(checkout, env)
    up = Up(checkout, process, output, env, base)
    try:
        assert process.wait(60) == 1
        said = up.said()
        assert "Traceback" not in said, said
        assert str(data) in said
        # "cannot be read or written by this user", or, as root, "cannot be used by nobody"
        # (who runs PostgreSQL), each with what to do.
        assert "cannot be" in said, said
        assert "remove it" in said, said
    finally:
        data.chmod(0o700)
        _end(up)


@pytest.mark.slow
def test_a_kill_9_of_procure_up_takes_its_children_and_the_next_start_is_ready() -> None:
    """In a folder only its user may enter (as mktemp -d makes), with what a crash in the
    middle of writing leaves in .procure/: a cut pid file, a damaged endpoints file, an empty
    secret, an initdb cut short."""
    checkout = Path(tempfile.mkdtemp(prefix="procure-closed-"))
    (checkout / "services").mkdir()
    (checkout / "pyproject.toml").write_text("")
    state = checkout / ".procure"
    state.mkdir()
    (state / "up.pids").write_text("12")
    (state / "endpoints.json").write_text('{"pid": 1')
    (state / "jwt-secret").write_text("")
    (state / "postgres.initdb").mkdir()
    (state / "postgres.initdb" / "PG_VERSION").write_text("1")
    base = free_port_run(3)
    env = _environment(base)
    process, output = _start(checkout, env)
    up = Up(checkout, process, output, env, base)
    try:
        assert checkout.stat().st_mode & 0o777 == 0o700
        _running(up)
        assert len((state / "jwt-secret").read_text()) >= 32
        data = state / "postgres"
        assert (data / "PG_VERSION").exists()
        # As root PostgreSQL runs as nobody, who may not enter the checkout: its data is kept
        # where nobody may reach it, linked from .procure/postgres.
        assert data.is_symlink() == (os.geteuid() == 0)
        second, said = _start(checkout, env)
        assert second.wait(30) == 1
        assert f"procure up is already running here (pid {process.pid})" in said.read_text()

        children = {what: pid for what, pid in up.pids().items() if what != "procure up"}
        assert set(children) == {"postgres", "nats", *SERVICES}
        up.process.kill()
        up.process.wait()
        started = time.monotonic()
        until(
            lambda: all(_gone(pid) for pid in children.values()),
            within=15,
            interval=0.1,
            what="every child of procure up gone after its kill -9",
        )
        print(f"children gone {time.monotonic() - started:.1f} s after the kill -9")
        assert (state / "up.pids").exists(), "the crash left its pid file"
        up.process, up.output = _start(checkout, env)
        _running(up)
        assert "reusing its data" in up.said()
    finally:
        _end(up)


@pytest.mark.slow
def test_a_killed_service_is_started_again_and_one_that_keeps_exiting_stops_the_stack() -> None:
    with procure_up() as up:
        _running(up)
        first = up.pids()["contracts"]
        os.kill(first, signal.SIGKILL)
        until(
            lambda: "contracts exited (code -9); starting it again in 1 s" in up.said(),
            within=10,
            what="the console saying the restart",
        )
        until(
            lambda: "contracts is ready again" in up.said(),
            within=60,
            what="contracts ready again",
            unless=lambda: up.process.poll() is not None,
        )
        assert up.pids()["contracts"] != first
        log = (up.state / "logs" / "contracts.log").read_text()
        assert "procure up: contracts exited (code -9); starting it again in 1 s" in log
        # The commands find this stack's ports (none is a default) through endpoints.json.
        assert (up.state / "endpoints.json").exists()
        shown = up.cli("status")
        assert shown.returncode == 0, shown.stdout + shown.stderr
        assert f"127.0.0.1:{up.port('contracts')}" in shown.stdout
        exported = up.cli("ocds", "export", "--out", str(up.checkout / "ocds"))
        assert exported.returncode == 0, exported.stdout + exported.stderr
        assert list((up.checkout / "ocds" / "records").glob("*.json"))

        # Its database gone, the contracts service exits as soon as it starts, every time
        # (code 2: it says so in its log); the fifth exit within 60 s stops the stack.
        postgres = up.env["PROCURE_DEV_POSTGRES_PORT"]

        async def drop() -> None:
            conn = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{postgres}/postgres")
            try:
                await conn.execute("DROP DATABASE procure_contracts WITH (FORCE)")
            finally:
                await conn.close()

        asyncio.run(drop())
        os.kill(up.pids()["contracts"], signal.SIGKILL)  # a running one rides out the loss
        code = up.process.wait(120)
        said = up.said()
        assert code == 1, said[-3000:]
        assert "contracts exited (code 2)" in said
        assert "5 times within 60 s: stopping" in said
        assert "the last lines of" in said
        assert "InvalidCatalogNameError" in said, "the service's last log line, its reason"
        assert "procure_contracts" in said.rsplit("the last lines of", 1)[1]
        assert not any(ready(up.port(s)) for s in SERVICES)
        # The endpoints go with the stack: the commands no longer find it.
        assert not (up.state / "endpoints.json").exists()
