"""The bus's two deployment steps, from the image: ``python -m procure_shared.bus``.

- ``credentials --out DIR [--identity NAME ...]``: an nkey seed for each identity (kept if it is
  there), the server's authorization for them and the cluster's route password
  (``procure_shared.identities``).
- ``upgrade``: delete, as the ``admin`` identity, the streams of earlier versions that stand in
  the way of this one's; running it again does nothing.

The image installs the kernel and the services, not the ``procure`` command (a tool for
people, ``procure_tools``), whose ``procure bus credentials`` and ``procure bus upgrade`` do the
same from a checkout. Like the services, ``upgrade`` reads NATS's address and the TLS files from
the environment (``NATS_URL``, ``PROCURE_NATS_TLS_CA``, ``PROCURE_NATS_TLS_CERT``,
``PROCURE_NATS_TLS_KEY``) unless told; the admin's seed is ``--nats-credentials`` (or
``PROCURE_NATS_CREDENTIALS``). A refusal is one line on standard error and exit code 2."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from procure_shared.identities import AUTHORIZATION_FILE, DEPLOYED, write_credentials
from procure_shared.messaging.nats import NatsAccess, NatsAccessError

__all__ = ["BusRefused", "main", "make_credentials", "retire_streams", "upgrade"]

DEFAULT_NATS = "nats://127.0.0.1:4222"


def make_credentials(out: Path, identities: Sequence[str] | None = None) -> list[str]:
    """Write the credentials of ``identities`` (default: every deployed one) in ``out``; the
    lines that say what was made (each identity's public key, where the authorization is)."""
    keys = write_credentials(out, identities or DEPLOYED)
    return [
        *(f"{name}: {key}" for name, key in keys.items()),
        f"the server's authorization: {out / AUTHORIZATION_FILE}",
    ]


async def retire_streams(nats_url: str, access: NatsAccess) -> list[str]:
    """Delete what an earlier version left in the way, as ``admin``; the streams deleted."""
    import nats  # only here: making credentials needs no NATS client

    from procure_shared.messaging.nats import retire_legacy_streams

    nc = await nats.connect(nats_url, allow_reconnect=False, **access.options())
    try:
        return await retire_legacy_streams(nc.jetstream())
    finally:
        await nc.close()


class BusRefused(Exception):
    """A step that could not be done, in one line."""


def upgrade(nats_url: str, access: NatsAccess) -> str:
    """Retire earlier versions' streams as ``admin`` (within 10 s); what was done, in one
    line. ``BusRefused`` when NATS does not take the request."""
    from nats.errors import Error as NatsError

    try:
        retired = asyncio.run(asyncio.wait_for(retire_streams(nats_url, access), 10))
    except (OSError, NatsError, TimeoutError) as exc:
        reason = str(exc) or type(exc).__name__
        raise BusRefused(
            f"NATS at {nats_url} did not take the admin identity's request: {reason}"
        ) from None
    return f"deleted: {', '.join(retired)}" if retired else "nothing to delete"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m procure_shared.bus", description="The bus's deployment steps."
    )
    steps = parser.add_subparsers(dest="step", required=True)
    made = steps.add_parser("credentials", help="make the bus's credentials")
    made.add_argument("--out", type=Path, required=True, help="the folder (made 0700)")
    made.add_argument(
        "--identity",
        action="append",
        dest="identities",
        help="an identity to make credentials for (repeat it; default: every deployed one)",
    )
    upgrade = steps.add_parser("upgrade", help="delete earlier versions' streams, as admin")
    upgrade.add_argument("--nats", help="the NATS server (default: NATS_URL)")
    upgrade.add_argument(
        "--nats-credentials", help="the admin's nkey seed (default: PROCURE_NATS_CREDENTIALS)"
    )
    upgrade.add_argument("--nats-tls-ca", help="default: PROCURE_NATS_TLS_CA")
    upgrade.add_argument("--nats-tls-cert", help="default: PROCURE_NATS_TLS_CERT")
    upgrade.add_argument("--nats-tls-key", help="default: PROCURE_NATS_TLS_KEY")
    return parser


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] = os.environ) -> int:
    args = _parser().parse_args(argv)
    if args.step == "credentials":
        try:
            lines = make_credentials(args.out, args.identities)
        except LookupError as exc:
            return _refuse(str(exc.args[0]))
        except OSError as exc:
            return _refuse(f"cannot write the credentials in {args.out}: {exc.strerror}")
        print("\n".join(lines))
        return 0
    url = args.nats or environ.get("NATS_URL") or DEFAULT_NATS
    seed = args.nats_credentials or environ.get("PROCURE_NATS_CREDENTIALS")
    if not seed:
        return _refuse("name the admin identity's nkey seed: --nats-credentials FILE")
    try:
        access = NatsAccess(
            identity="admin",
            seed_file=seed,
            tls_ca=args.nats_tls_ca or environ.get("PROCURE_NATS_TLS_CA"),
            tls_cert=args.nats_tls_cert or environ.get("PROCURE_NATS_TLS_CERT"),
            tls_key=args.nats_tls_key or environ.get("PROCURE_NATS_TLS_KEY"),
        ).checked()
    except NatsAccessError as exc:
        return _refuse(str(exc))
    try:
        print(upgrade(url, access))
    except BusRefused as exc:
        return _refuse(str(exc))
    return 0


def _refuse(message: str) -> int:
    print(message, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
