"""Webhook signing secrets sealed at rest (Fernet, from the ``cryptography`` library): the
``secret`` columns hold tokens, never the secret. ``MultiFernet`` gives rotation: the first
key seals, every key opens, and ``reseal`` moves a token to the first key. A value stored
before sealing (a plain ``whsec_...``) still opens, and ``reseal`` seals it."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

__all__ = ["DEV_SECRETS_KEY", "SecretBox", "box_of"]

log = logging.getLogger("procure.notifications.secrets")

# Public, for development machines and tests only (as the JWT development secret): the
# service refuses it, and its absence, outside development mode.
DEV_SECRETS_KEY = "cHJvY3VyZS1kZXZlbG9wbWVudC1zZWNyZXRzLWtleSE="
_PLAIN = "whsec_"  # how an unsealed Standard Webhooks secret begins (a token: "gAAAAA")


class SecretBox:
    """Seals and opens signing secrets with a list of Fernet keys, the first sealing."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("no key to seal secrets with")
        self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, stored: str | None) -> str | None:
        """The secret, or None when there is none or no key opens it (it then signs nothing:
        a delivery fails and is retried once the key is back)."""
        if stored is None or stored.startswith(_PLAIN):
            return stored
        try:
            return self._fernet.decrypt(stored.encode()).decode()
        except InvalidToken:
            log.error("a signing secret opens with none of the keys in PROCURE_SECRETS_KEY")
            return None

    def reseal(self, stored: str) -> str:
        """The value sealed with the first key (a plain value sealed for the first time)."""
        if stored.startswith(_PLAIN):
            return self.seal(stored)
        return self._fernet.rotate(stored.encode()).decode()


@lru_cache(maxsize=8)
def box_of(keys: tuple[str, ...]) -> SecretBox:
    return SecretBox(keys)
