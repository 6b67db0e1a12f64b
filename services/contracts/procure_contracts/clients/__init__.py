"""Outbound adapters: what the contracts service asks of the providers service, over NATS
(``providers_rpc.py``: eligibility, request/reply) and over HTTP (``providers_http.py``: the
registry an OCDS import finds and registers suppliers in)."""
