"""The documents a client relies on, built as the services build them, without serving: each
service's OpenAPI document (what ``/schema/openapi.json`` answers) and the event catalogue's
AsyncAPI document (what ``procure asyncapi`` prints). The version is left out (it moves with
every release); everything else is as served."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, cast

from litestar.serialization import encode_json

from procure_shared.clock import SystemClock
from procure_shared.events import CATALOGUE
from procure_shared.events.asyncapi import asyncapi_document
from procure_shared.messaging.nats import NatsState
from procure_shared.service import Runtime, build_app
from procure_shared.settings import settings_from_env

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("contracts", "providers", "notifications")
VERSION = "(any)"
# The environment of a development run (defaults everywhere else): the documents do not depend
# on where the servers are.
ENVIRONMENT = {
    "PROCURE_DEV_MODE": "true",
    "DATABASE_URL": "postgresql://procure@127.0.0.1:5432/procure",
    "NATS_URL": "nats://127.0.0.1:4222",
}


def openapi(service: str) -> dict[str, Any]:
    """``service``'s OpenAPI document as its HTTP process serves it, built in a process of its
    own: which request bodies are closed depends on the Structs loaded (``create_service_app``),
    and a service process loads only its own."""
    built = subprocess.run(
        [sys.executable, "-m", "tests.support.api_documents", service],
        capture_output=True,
        check=True,
        cwd=ROOT,
    )
    document: dict[str, Any] = json.loads(built.stdout)
    return document


def _openapi_here(service: str) -> dict[str, Any]:
    package = f"procure_{service}"
    options = importlib.import_module(f"{package}.settings").options_from_env(ENVIRONMENT)
    definition = importlib.import_module(f"{package}.app").definition(options)
    runtime = Runtime(
        settings=settings_from_env(service, ENVIRONMENT),
        clock=SystemClock(),
        # Building the app connects to nothing: the pool and NATS are used only when serving.
        pool=cast(Any, None),
        nats=cast(Any, None),
        js=cast(Any, None),
        nats_state=NatsState(name=f"procure-{service}"),
    )
    schema = build_app(definition, runtime).openapi_schema.to_schema()
    # As served: encoded by Litestar (examples hold Structs), read back as plain JSON.
    document: dict[str, Any] = json.loads(encode_json(schema))
    document["info"]["version"] = VERSION
    return document


def asyncapi() -> dict[str, Any]:
    """The AsyncAPI document of every event the services publish."""
    return asyncapi_document(CATALOGUE, version=VERSION)


if __name__ == "__main__":
    sys.stdout.write(json.dumps(_openapi_here(sys.argv[1])))
