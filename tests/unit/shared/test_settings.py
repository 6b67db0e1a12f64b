from datetime import UTC, datetime

import pytest

from procure_shared.messaging.consumer import ConsumerSpec
from procure_shared.service import tuned
from procure_shared.settings import SettingsError, settings_from_env


def test_settings_come_from_the_environment_with_types_converted() -> None:
    settings = settings_from_env(
        "contracts",
        {
            "DATABASE_URL": "postgresql://u@127.0.0.1:5432/contracts",
            "NATS_URL": "nats://127.0.0.1:4333",
            "PROCURE_HTTP_PORT": "8101",
            "PROCURE_CLOCK_START": "2022-09-01T09:00:00+00:00",
            "PROCURE_CLOCK_RATE": "60",
        },
    )
    assert settings.service == "contracts"
    assert settings.http_port == 8101
    assert settings.nats_url == "nats://127.0.0.1:4333"
    assert settings.clock_start == datetime(2022, 9, 1, 9, tzinfo=UTC)
    assert settings.clock_rate == 60.0


def test_a_missing_database_url_is_refused_with_its_name() -> None:
    with pytest.raises(SettingsError, match="DATABASE_URL"):
        settings_from_env("contracts", {})


def test_a_bad_value_is_refused_naming_the_environment_variable() -> None:
    with pytest.raises(SettingsError, match="PROCURE_HTTP_PORT"):
        settings_from_env(
            "contracts", {"DATABASE_URL": "postgresql://x/y", "PROCURE_HTTP_PORT": "eighty"}
        )


def test_test_variables_are_not_read_as_development_settings() -> None:
    settings = settings_from_env(
        "contracts", {"DATABASE_URL": "postgresql://x/y", "TEST_NATS_URL": "nats://elsewhere:1"}
    )
    assert settings.nats_url == "nats://127.0.0.1:4222"


def test_the_consumer_settings_override_every_consumers_own_only_when_set() -> None:
    spec = ConsumerSpec(
        name="x__y", stream="S", filter_subjects=("s.>",), handlers={}, max_deliver=20
    )
    unset = settings_from_env("contracts", {"DATABASE_URL": "postgresql://h/d"})
    assert tuned(spec, unset) == spec
    given = settings_from_env(
        "contracts",
        {
            "DATABASE_URL": "postgresql://h/d",
            "PROCURE_CONSUMER_MAX_DELIVER": "3",
            "PROCURE_CONSUMER_ACK_WAIT": "5",
        },
    )
    assert (tuned(spec, given).max_deliver, tuned(spec, given).ack_wait) == (3, 5.0)
