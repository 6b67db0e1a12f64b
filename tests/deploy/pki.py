"""A certificate for the NATS nodes, as the production overlay expects Secret ``nats-tls``
(cert-manager's layout: ``tls.crt``, ``tls.key``, ``ca.crt``): signed by an authority made
here, naming what docs/operations.md says it must name (and 127.0.0.1, for the nodes a test
runs on this machine), good for server and client authentication (a route checks both
ends)."""

from __future__ import annotations

from tests.support.pki import Authority
from tests.support.servers import scratch_dir

__all__ = ["NODE_NAMES", "nats_tls_secret"]

# What the certificate names: the client Service and the pods under the headless Service,
# each short and qualified with the namespace (docs/operations.md).
NODE_NAMES = (
    "nats",
    "nats.procure.svc",
    "nats.procure.svc.cluster.local",
    "*.nats-headless",
    "*.nats-headless.procure.svc",
    "*.nats-headless.procure.svc.cluster.local",
    "localhost",
)


def nats_tls_secret() -> dict[str, str]:
    """The keys of Secret ``nats-tls``: the nodes' certificate and key, and the authority's
    certificate (EC P-256, valid for a day)."""
    folder = scratch_dir("procure-deploy-pki-")
    authority = Authority("Procure deploy test CA")
    node = authority.issue(folder, "nats", server=True, hosts=NODE_NAMES)
    return {
        "tls.crt": node.cert.read_text(),
        "tls.key": node.key.read_text(),
        "ca.crt": authority.write(folder / "ca.crt").read_text(),
    }
