from tests.support.servers import Source, choose_source


def never() -> bool:
    raise AssertionError("Docker must not be asked when the variable is set")


def test_a_set_test_variable_wins_without_asking_docker() -> None:
    environ = {"TEST_POSTGRES_URL": "postgresql://u@db:5432/x"}
    assert choose_source("TEST_POSTGRES_URL", environ, never) is Source.ENVIRONMENT


def test_testcontainers_are_used_when_a_docker_engine_answers() -> None:
    assert choose_source("TEST_NATS_URL", {}, lambda: True) is Source.TESTCONTAINERS


def test_the_embedded_binaries_are_used_when_nothing_else_is_there() -> None:
    assert choose_source("TEST_NATS_URL", {"TEST_NATS_URL": ""}, lambda: False) is Source.EMBEDDED


def test_development_variables_are_never_read_by_the_tests() -> None:
    environ = {"DATABASE_URL": "postgresql://dev", "PROCURE_POSTGRES_URL": "postgresql://dev"}
    assert choose_source("TEST_POSTGRES_URL", environ, lambda: False) is Source.EMBEDDED
