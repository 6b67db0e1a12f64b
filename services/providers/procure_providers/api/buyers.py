"""The buyer a request speaks for, as the use cases weigh it."""

from __future__ import annotations

from typing import Any

from litestar import Request

from procure_providers.domain.buyers import Who
from procure_shared.http.domain import principal

__all__ = ["who"]


def who(request: Request[Any, Any, Any]) -> Who:
    caller = principal(request)
    return Who(buyer=caller.buyer, admin=caller.is_admin)
