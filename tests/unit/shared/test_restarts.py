"""When procure up starts a service again, and the pid file it reads back: pure rules."""

from procure_tools.devstack.processes import Listed, listed
from procure_tools.devstack.restarts import Restarts


def test_a_service_is_started_again_after_a_delay_that_doubles_up_to_a_ceiling() -> None:
    policy = Restarts(limit=10, window=1000, first_delay=1, max_delay=5)
    assert [policy.after_exit(float(t)) for t in range(5)] == [1, 2, 4, 5, 5]


def test_the_fifth_exit_within_the_window_stops_the_stack() -> None:
    policy = Restarts()
    assert [policy.after_exit(t) for t in (0.0, 1.0, 3.0, 7.0)] == [1, 2, 4, 8]
    assert policy.after_exit(15.0) is None


def test_exits_older_than_the_window_are_forgotten() -> None:
    policy = Restarts(limit=3, window=60)
    assert policy.after_exit(0.0) == 1
    assert policy.after_exit(10.0) == 2
    assert policy.after_exit(65.0) == 2, "the exit at 0 s is forgotten: two in the window"
    assert policy.after_exit(66.0) is None


def test_a_pid_file_cut_short_by_a_crash_yields_only_its_whole_lines() -> None:
    text = "100 5000 procure up\n101 5001 postgres\n10"
    assert listed(text) == [Listed(100, 5000, "procure up"), Listed(101, 5001, "postgres")]
    assert listed("not a pid file at all") == []
