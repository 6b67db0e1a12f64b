"""The development stack: embedded PostgreSQL and nats-server, and ``procure up``."""

from procure_tools.devstack.servers import (
    EmbeddedNats,
    EmbeddedPostgres,
    ServerError,
    free_port,
    nats_cluster,
    nats_cluster_config,
    nats_config,
)

__all__ = [
    "EmbeddedNats",
    "EmbeddedPostgres",
    "ServerError",
    "free_port",
    "nats_cluster",
    "nats_cluster_config",
    "nats_config",
]
