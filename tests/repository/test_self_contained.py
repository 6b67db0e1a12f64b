"""The repository needs nothing beside it: no code, test, script or build file reaches a folder
outside the checkout, and a clone in an empty folder runs `make up` and exports OCDS."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path, PurePosixPath

import pytest
from procure_tools.devstack import free_port

from tests.support.ports import free_port_run
from tests.support.servers import scratch_dir
from tests.support.wait import ready, until

ROOT = Path(__file__).resolve().parents[2]

# Files that run or build something; prose and data (Markdown, JSON, CSV) may cite sources.
CODE_SUFFIXES = {".py", ".sh", ".toml", ".yaml", ".yml", ".cfg", ".ini", ".conf", ".j2", ".html"}
CODE_NAMES = {"Makefile", "Dockerfile", "run", ".dockerignore", ".gitignore"}

# The folder that sits beside our checkouts, by the names of what it holds: as a path, or as
# the pieces of one (``ROOT.parent / "shared" / "data"``, ``join(..., "shared", "design")``).
BESIDE = re.compile(
    r"\.\./shared\b|(?<![\w/])shared/(?:data|design|reference|hooks)\b"
    r"""|["']shared["']\s*[,/]\s*["'](?:data|design|reference|hooks)["']"""
)
# The folder the checkout sits in, spelt out (a path of this machine).
OUTSIDE = str(ROOT.parent) + "/"
UP_RELATIVE = re.compile(r"(?:\.\./)+")
# Path(__file__)[.resolve()] followed by .parents[N] and/or .parent steps.
FROM_FILE = re.compile(
    r"Path\(__file__\)(?:\.resolve\(\))?(?P<steps>(?:\.parent(?!s)|\.parents\[\d+\])+)"
)


def outside_references(path: str, text: str, outside: str = OUTSIDE) -> list[str]:
    """Each line of the file at ``path`` (relative to the repository's root) that names a folder
    outside the repository: the folder beside it, a relative path that climbs above the root,
    ``Path(__file__)`` walked up past it, or ``outside`` (the folder the checkout sits in)
    spelt out, unless that is too short to tell from other paths (``/``, ``/tmp/``)."""
    depth = len(PurePosixPath(path).parts) - 1  # folders between the root and the file
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        climbs = [len(m.group(0)) // 3 for m in UP_RELATIVE.finditer(line)]
        walks = [_levels(m.group("steps")) for m in FROM_FILE.finditer(line)]
        if (
            BESIDE.search(line)
            or (len(outside) > 5 and outside in line)
            or any(n > depth for n in climbs)
            or any(n > depth + 1 for n in walks)
        ):
            found.append(f"{path}:{number}: {line.strip()}")
    return found


def _levels(steps: str) -> int:
    """How far ``.parent.parents[2]...`` climbs from the file (1: its own folder)."""
    levels = 0
    for step in re.findall(r"\.parent(?!s)|\.parents\[(\d+)\]", steps):
        levels += int(step) + 1 if step else 1
    return levels


def _code_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [
        name
        for name in listed
        if (Path(name).suffix in CODE_SUFFIXES or Path(name).name in CODE_NAMES)
        and (ROOT / name).is_file()
    ]


def test_a_reference_outside_the_repository_is_found_however_it_is_written() -> None:
    assert outside_references("tests/support/ocds.py", 'DATA = ROOT / "../shared/data/ocds"')
    assert outside_references("bench/harness.py", "see shared/reference/performance.md")
    assert outside_references("Makefile", "SCHEMAS := ../schemas")
    assert outside_references("tests/support/ocds.py", "Path(__file__).parents[3]")
    assert outside_references("tests/support/ocds.py", "Path(__file__).parents[2].parent")
    assert outside_references("bench/x.py", "Path(__file__).resolve().parent.parent.parent")
    assert outside_references("tests/x.py", 'ROOT.parent / "shared" / "data" / "ocds"')
    assert outside_references("tests/x.py", 'os.path.join(HERE, "shared", "design")')
    # The checkout's own folder spelt out (a checkout in /work/checkouts; wherever this one is).
    checkouts = "/work/checkouts/"
    assert outside_references("tests/x.py", f'Path("{checkouts}elsewhere")', outside=checkouts)
    # Inside: the root itself, and a member's pyproject naming the workspace's.
    assert not outside_references("tests/support/ocds.py", "Path(__file__).parents[2] / 'x'")
    assert not outside_references("bench/x.py", "Path(__file__).resolve().parent.parent")
    assert not outside_references("services/a/pyproject.toml", 'path = "../../pyproject.toml"')
    assert not outside_references("shared/procure_shared/x.py", "from procure_shared import x")


def test_no_code_test_script_or_build_file_reaches_outside_the_repository() -> None:
    files = _code_files()
    assert "Makefile" in files
    assert "tests/support/ocds.py" in files
    this = str(Path(__file__).relative_to(ROOT))  # its examples above are meant to be found
    found = [
        line
        for name in files
        if name != this
        for line in outside_references(name, (ROOT / name).read_text(errors="replace"))
    ]
    assert not found, "copy what they need into the repository:\n" + "\n".join(found)


@pytest.mark.slow
def test_a_clone_in_an_empty_folder_runs_make_up_and_exports_ocds() -> None:
    work = scratch_dir("procure-clone-")
    clone = work / "procure"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    base = free_port_run(3)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PROCURE_", "DATABASE_", "NATS_", "VIRTUAL_ENV", "UV_"))
    }
    env |= {
        "TMPDIR": str(work),  # where PostgreSQL's data goes if nobody may not reach the clone
        "PROCURE_DEV_HTTP_PORT": str(base),
        "PROCURE_DEV_POSTGRES_PORT": str(free_port()),
        "PROCURE_DEV_NATS_PORT": str(free_port()),
        "PROCURE_DEV_SMTP_PORT": str(free_port()),
    }
    log = work / "up.log"
    with log.open("wb") as out:
        up = subprocess.Popen(
            ["make", "up"],
            cwd=clone,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        until(
            lambda: all(ready(base + n) for n in range(3)),
            within=480,
            interval=1.0,
            what="the three services of a fresh clone ready",
            unless=lambda: up.poll() is not None,
        )
        assert not (clone / ".venv/bin/pytest").exists(), "make up installs the runtime only"
        exported = work / "ocds"

        def export() -> list[Path]:
            """``procure ocds export`` as a user runs it; the records it wrote (the demo's
            contracts arrive shortly after the services are ready)."""
            shutil.rmtree(exported, ignore_errors=True)
            done = subprocess.run(
                [
                    str(clone / ".venv/bin/procure"),
                    *("ocds", "export", "--out", str(exported)),
                    *("--url", f"http://127.0.0.1:{base}"),
                ],
                cwd=clone,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert done.returncode == 0, done.stdout + done.stderr
            return sorted((exported / "records").glob("*.json"))

        records = until(export, within=120, interval=2.0, what="the demo's processes exported")
        package = json.loads(records[0].read_text())
        assert package["records"][0]["compiledRelease"]["ocid"].startswith("ocds-procure-")
    except AssertionError:
        print(log.read_text(errors="replace")[-5000:])
        raise
    finally:
        with_group_stopped(up)
        shutil.rmtree(work, ignore_errors=True)


def with_group_stopped(process: subprocess.Popen[bytes]) -> None:
    """Ctrl-C to ``make up``'s process group, as a terminal sends it; -9 if it lingers."""
    try:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass
