"""What a client of our HTTP APIs makes of a refusal: a problem+json answer as one line."""

from __future__ import annotations

import httpx

__all__ = ["problem_line"]


def problem_line(answer: httpx.Response, *, with_status: bool = False) -> str:
    """The problem's detail (else its title) and the field errors it does not repeat; a body
    that is no problem as ``HTTP <status>: <its start>``. ``with_status`` puts the status first
    in every case."""
    try:
        problem = answer.json()
    except ValueError:
        problem = None
    if not isinstance(problem, dict):
        return f"HTTP {answer.status_code}: {answer.text[:300]}"
    detail = str(problem.get("detail") or problem.get("title") or f"HTTP {answer.status_code}")
    errors = [
        f"{e.get('field')}: {e.get('message')}"
        for e in problem.get("errors") or []
        if isinstance(e, dict) and str(e.get("message")) not in detail
    ]
    line = f"{detail} ({'; '.join(errors)})" if errors else detail
    return f"HTTP {answer.status_code}: {line}" if with_status else line
