"""HTTP plumbing shared by the services."""

from procure_shared.http.app import Reading, Transaction, create_service_app
from procure_shared.http.auth import Principal, Role, issue_token, requires
from procure_shared.http.problems import (
    PROBLEM_JSON,
    FieldError,
    ProblemDetails,
    ProblemException,
    problem_responses,
)

__all__ = [
    "PROBLEM_JSON",
    "FieldError",
    "Principal",
    "ProblemDetails",
    "ProblemException",
    "Reading",
    "Role",
    "Transaction",
    "create_service_app",
    "issue_token",
    "problem_responses",
    "requires",
]
