"""The AsyncAPI 3 document of Procure's events, generated from the catalogue (never written by
hand). Each event type is a channel whose address is its NATS subject; its message is the
CloudEvents envelope with the type's data schema."""

from __future__ import annotations

from typing import Any

import msgspec

from procure_shared.events.catalogue import Catalogue, EventSpec
from procure_shared.events.streams import EVERY_STREAM, StreamSpec

__all__ = ["asyncapi_document"]

_REF = "#/components/schemas/{name}"


def _key(spec: EventSpec) -> str:
    name = spec.type.replace(".", "_")
    return name if spec.version == 1 else f"{name}_v{spec.version}"


def _envelope_schema(spec: EventSpec, data_ref: dict[str, Any]) -> dict[str, Any]:
    string = {"type": "string"}
    return {
        "type": "object",
        "required": [
            "specversion",
            "id",
            "source",
            "type",
            "subject",
            "time",
            "datacontenttype",
            "procureversion",
            "sequence",
            "data",
        ],
        "properties": {
            "specversion": {"const": "1.0"},
            "id": {"type": "string", "format": "uuid", "description": "Also Nats-Msg-Id."},
            "source": {"const": f"/procure/{spec.producer}"},
            "type": {"const": spec.type},
            "subject": {**string, "description": "The aggregate's id."},
            "time": {"type": "string", "format": "date-time"},
            "datacontenttype": {"const": "application/json"},
            "procureversion": {"const": spec.version},
            "sequence": {
                "type": "integer",
                "minimum": 1,
                "description": "The aggregate's version: apply an aggregate's events in order.",
            },
            "buyerid": {
                **string,
                "description": "Whose data it is; absent on shared data (the provider registry).",
            },
            "data": data_ref,
        },
    }


def asyncapi_document(
    catalogue: Catalogue,
    *,
    version: str,
    streams: tuple[StreamSpec, ...] = EVERY_STREAM,
    server: str = "127.0.0.1:4222",
) -> dict[str, Any]:
    specs = list(catalogue)
    data_refs, components = msgspec.json.schema_components(
        [spec.data for spec in specs], ref_template=_REF
    )
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for spec, data_ref in zip(specs, data_refs, strict=True):
        key = _key(spec)
        messages[key] = {
            "name": spec.type,
            "title": spec.type,
            "summary": spec.summary,
            "contentType": "application/json",
            "headers": {
                "type": "object",
                "properties": {
                    "Nats-Msg-Id": {"type": "string", "description": "The event id (dedupe)."},
                    "Procure-Correlation-Id": {"type": "string"},
                },
            },
            "payload": _envelope_schema(spec, data_ref),
        }
        channels[key] = {
            "address": spec.type,
            "title": spec.type,
            "messages": {key: {"$ref": f"#/components/messages/{key}"}},
        }
        operations[f"publish_{key}"] = {
            "action": "send",
            "title": f"{spec.producer} publishes {spec.type}",
            "channel": {"$ref": f"#/channels/{key}"},
            "messages": [{"$ref": f"#/channels/{key}/messages/{key}"}],
        }
    stream_notes = "; ".join(f"{s.name} captures {', '.join(s.subjects)}" for s in streams)
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Procure events",
            "version": version,
            "description": (
                "Every event Procure publishes, as CloudEvents 1.0 envelopes over NATS "
                f"JetStream. Streams: {stream_notes}. Subject = type; the data schema version "
                "travels in `procureversion`."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "development": {
                "host": server,
                "protocol": "nats",
                "description": "`make up` starts nats-server with JetStream here.",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": components},
    }
