"""Messaging: the NATS connection and streams, the outbox and its relay, the inbox and the
consumer, dead letters, the pull change feed and each HTTP process's presence on NATS."""
