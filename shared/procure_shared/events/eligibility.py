"""The eligibility question, asked over NATS request/reply (``interfaces.md``).

``rpc.providers.eligibility`` is an endpoint of the ``nats.micro`` service ``providers``; the
subject is outside every stream. The contracts service asks it before every award; the providers
service answers it (and the same check is on HTTP, ``POST /v1/eligibility``).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

import msgspec

__all__ = [
    "ELIGIBILITY_SUBJECT",
    "EligibilityAnswer",
    "EligibilityQuestion",
    "EligibilityResult",
    "Finding",
    "decode_answer",
    "decode_question",
    "encode",
]

ELIGIBILITY_SUBJECT = "rpc.providers.eligibility"
# A question names at most this many providers (a lot's bidders, not the whole registry).
MAX_PROVIDERS = 100


class EligibilityQuestion(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, rename="camel"
):
    provider_ids: Annotated[list[str], msgspec.Meta(min_length=1, max_length=MAX_PROVIDERS)]
    category: str
    on: date


class Finding(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, rename="camel"):
    """A reason against eligibility, or a warning: a machine-readable code and a sentence."""

    code: str
    message: str
    until: date | None = None


class EligibilityResult(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    provider_id: str
    eligible: bool
    reasons: list[Finding]
    warnings: list[Finding]


class EligibilityAnswer(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    results: list[EligibilityResult]


_encoder = msgspec.json.Encoder()
_question = msgspec.json.Decoder(EligibilityQuestion)
_answer = msgspec.json.Decoder(EligibilityAnswer)


def encode(value: EligibilityQuestion | EligibilityAnswer) -> bytes:
    return _encoder.encode(value)


def decode_question(payload: bytes) -> EligibilityQuestion:
    return _question.decode(payload)


def decode_answer(payload: bytes) -> EligibilityAnswer:
    return _answer.decode(payload)
