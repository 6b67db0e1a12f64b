"""Asking the providers service, over NATS request/reply, whether providers are eligible."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import date

import msgspec
from nats.aio.client import Client
from nats.errors import ConnectionClosedError, NoRespondersError, TimeoutError

from procure_contracts.usecases.context import AskEligibility
from procure_shared.errors import RuleBroken, Unavailable
from procure_shared.events.eligibility import (
    ELIGIBILITY_SUBJECT,
    EligibilityQuestion,
    EligibilityResult,
    decode_answer,
    encode,
)

__all__ = ["eligibility_over_nats"]

log = logging.getLogger("procure.contracts.eligibility")


def eligibility_over_nats(nc: Client, timeout: float) -> AskEligibility:
    async def ask(
        provider_ids: Sequence[str], category: str, on: date
    ) -> Mapping[str, EligibilityResult]:
        question = EligibilityQuestion(provider_ids=list(provider_ids), category=category, on=on)
        unavailable = Unavailable(
            f"the providers service did not answer the eligibility check within {timeout:g} s; "
            "nothing was written: try again"
        )
        try:
            reply = await nc.request(ELIGIBILITY_SUBJECT, encode(question), timeout=timeout)
        except (TimeoutError, NoRespondersError, ConnectionClosedError) as exc:
            log.warning("eligibility not answered: %r", exc)
            raise unavailable from None
        code = (reply.headers or {}).get("Nats-Service-Error-Code")
        if code is not None:
            message = (reply.headers or {}).get("Nats-Service-Error", "")
            if code.startswith("4"):
                raise RuleBroken(f"the providers service refused the question: {message}")
            log.warning("eligibility failed: %s %s", code, message)
            raise unavailable
        try:
            answer = decode_answer(reply.data)
        except msgspec.DecodeError as exc:
            log.error("eligibility answer undecodable: %s", exc)
            raise unavailable from None
        return {result.provider_id: result for result in answer.results}

    return ask
