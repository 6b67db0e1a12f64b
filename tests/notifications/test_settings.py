"""The notifications service's options as read from the environment."""

from __future__ import annotations

import pytest

from procure_notifications.settings import options_from_env
from procure_shared.settings import SettingsError


def test_the_cap_on_subscriptions_per_owner_is_50_unless_set() -> None:
    assert options_from_env({}).subscriptions_per_owner == 50
    chosen = options_from_env({"PROCURE_SUBSCRIPTIONS_PER_OWNER": "7"})
    assert chosen.subscriptions_per_owner == 7


def test_a_cap_below_one_is_refused() -> None:
    with pytest.raises(SettingsError, match="PROCURE_SUBSCRIPTIONS_PER_OWNER"):
        options_from_env({"PROCURE_SUBSCRIPTIONS_PER_OWNER": "0"})
