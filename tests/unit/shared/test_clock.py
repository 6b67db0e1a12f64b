from datetime import UTC, datetime, timedelta

import pytest

from procure_shared.clock import AcceleratedClock, FixedClock, SystemClock, clock_from_settings
from procure_shared.settings import settings_from_env


def test_the_system_clock_is_timezone_aware() -> None:
    assert SystemClock().now().tzinfo is not None


def test_a_fixed_clock_moves_only_when_told() -> None:
    clock = FixedClock(datetime(2022, 9, 1, tzinfo=UTC))
    assert clock.now() == clock.now()
    clock.advance(timedelta(days=3))
    assert clock.now() == datetime(2022, 9, 4, tzinfo=UTC)


def test_an_accelerated_clock_starts_at_its_start_and_runs_faster_than_real_time() -> None:
    start = datetime(2022, 9, 1, tzinfo=UTC)
    clock = AcceleratedClock(start, rate=3600.0)
    first = clock.now()
    assert start <= first < start + timedelta(minutes=5)
    deadline = datetime.now(UTC) + timedelta(seconds=2)
    while clock.now() - first < timedelta(seconds=36) and datetime.now(UTC) < deadline:
        pass
    # 10 ms of real time at 3600x is 36 simulated seconds.
    assert clock.now() - first >= timedelta(seconds=36)


def test_settings_choose_the_clock() -> None:
    assert isinstance(clock_from_settings(None, 1.0), SystemClock)
    demo = clock_from_settings(datetime(2023, 5, 1), 1.0)
    assert isinstance(demo, AcceleratedClock)
    assert demo.now().date().isoformat() == "2023-05-01"


def test_a_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        AcceleratedClock(datetime(2022, 9, 1))


def test_clocks_anchored_at_one_real_instant_agree_wherever_they_were_made() -> None:
    anchor = datetime.now(UTC) - timedelta(seconds=10)
    start = datetime(2023, 7, 24, tzinfo=UTC)
    first = AcceleratedClock(start, rate=3600.0, anchor=anchor)
    later = AcceleratedClock(start, rate=3600.0, anchor=anchor)  # a process started later
    # Ten real seconds after the anchor at 3600x: ten simulated hours after the start.
    assert start + timedelta(hours=10) <= first.now() < start + timedelta(hours=11)
    assert abs(later.now() - first.now()) < timedelta(minutes=1)


def test_a_bare_date_in_the_settings_is_that_days_midnight() -> None:
    settings = settings_from_env(
        "contracts",
        {"DATABASE_URL": "postgresql://x/y", "PROCURE_CLOCK_START": "2023-07-24"},
    )
    assert settings.clock_start == datetime(2023, 7, 24, tzinfo=UTC)
