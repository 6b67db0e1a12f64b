"""Procure's tools for people, beside the kernel the services run on (``procure_shared``): the
``procure`` command (``cli.py``: up, status, token, revoke, bus, ocds, providers import,
asyncapi, configuration), the development stack it runs (``devstack/``: embedded PostgreSQL,
nats-server and a mail sink), the importers, what ``procure status`` shows, the configuration
reference, and the command's side of OCDS (``ocds/``: reading a file of any size, sending it,
writing an export, synthetic data). The services never import it."""
