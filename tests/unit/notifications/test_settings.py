"""The notifications service's options as read from the environment."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet

from procure_notifications.domain.signing import new_secret
from procure_notifications.settings import options_from_env, secrets_refusal
from procure_notifications.storage.sealing import DEV_SECRETS_KEY, SecretBox
from procure_shared.settings import SettingsError


def test_the_cap_on_subscriptions_per_owner_is_50_unless_set() -> None:
    assert options_from_env({}).subscriptions_per_owner == 50
    chosen = options_from_env({"PROCURE_SUBSCRIPTIONS_PER_OWNER": "7"})
    assert chosen.subscriptions_per_owner == 7


def test_a_cap_below_one_is_refused() -> None:
    with pytest.raises(SettingsError, match="PROCURE_SUBSCRIPTIONS_PER_OWNER"):
        options_from_env({"PROCURE_SUBSCRIPTIONS_PER_OWNER": "0"})


NEW_KEY = Fernet.generate_key().decode()
OLD_KEY = Fernet.generate_key().decode()


def test_without_a_secrets_key_the_service_refuses_to_start_outside_development_mode() -> None:
    unset = options_from_env({})
    assert "PROCURE_SECRETS_KEY is not set" in (secrets_refusal(unset, dev_mode=False) or "")
    assert secrets_refusal(unset, dev_mode=True) is None
    public = options_from_env({"PROCURE_SECRETS_KEY": DEV_SECRETS_KEY})
    assert "public development key" in (secrets_refusal(public, dev_mode=False) or "")
    broken = options_from_env({"PROCURE_SECRETS_KEY": f"{NEW_KEY},not-a-key"})
    assert "not a Fernet key" in (secrets_refusal(broken, dev_mode=True) or "")
    own = options_from_env({"PROCURE_SECRETS_KEY": f" {NEW_KEY} , {OLD_KEY} "})
    assert secrets_refusal(own, dev_mode=False) is None


def test_a_sealed_secret_is_not_the_secret_and_opens_with_any_key_of_the_list() -> None:
    secret = new_secret()
    sealed = SecretBox([OLD_KEY]).seal(secret)
    assert secret not in sealed
    assert SecretBox([NEW_KEY, OLD_KEY]).open(sealed) == secret
    assert SecretBox([NEW_KEY]).open(sealed) is None


def test_resealing_moves_a_secret_to_the_first_key_and_seals_a_plain_one() -> None:
    secret = new_secret()
    both = SecretBox([NEW_KEY, OLD_KEY])
    moved = both.reseal(SecretBox([OLD_KEY]).seal(secret))
    assert SecretBox([NEW_KEY]).open(moved) == secret
    assert SecretBox([OLD_KEY]).open(moved) is None
    # A secret stored before sealing opens as it is, and is sealed by a reseal.
    assert both.open(secret) == secret
    sealed = both.reseal(secret)
    assert secret not in sealed
    assert SecretBox([NEW_KEY]).open(sealed) == secret


def test_the_service_refuses_to_start_without_a_secrets_key_outside_development_mode() -> None:
    environ = {"PATH": os.environ["PATH"], "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/x"}
    ran = subprocess.run(
        [sys.executable, "-m", "procure_notifications", "serve"],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ran.returncode == 1
    assert "PROCURE_SECRETS_KEY is not set" in ran.stderr
