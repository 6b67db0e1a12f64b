import pytest

from procure_shared.http import Principal, Role

R = Role


@pytest.mark.parametrize(
    ("held", "needed", "allowed"),
    [
        ({R.VIEWER}, {R.VIEWER}, True),
        ({R.VIEWER}, {R.COMMERCIAL}, False),
        ({R.COMMERCIAL}, {R.VIEWER}, True),
        ({R.COMMERCIAL}, {R.OPS}, False),
        ({R.OPS}, {R.VIEWER}, True),
        ({R.OPS}, {R.COMMERCIAL}, False),
        ({R.OPS}, {R.OPS}, True),
        ({R.ADMIN}, {R.COMMERCIAL}, True),
        ({R.ADMIN}, {R.OPS}, True),
        ({R.COMMERCIAL, R.OPS}, {R.OPS}, True),
    ],
)
def test_commercial_and_ops_act_as_viewers_plus_their_own_and_admin_as_anyone(
    held: set[Role], needed: set[Role], allowed: bool
) -> None:
    principal = Principal(sub="alice", roles=frozenset(held), buyer="dfe")
    assert principal.has_any(needed) is allowed
