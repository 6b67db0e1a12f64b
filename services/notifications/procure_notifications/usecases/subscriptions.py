"""Subscriptions: created, changed, paused, resumed, re-keyed and deleted by their owner (or an
admin), each change audited. A webhook URL is checked (resolved, every address allowed) when
it is set; the signing secret is shown once, when it is made."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import msgspec

from procure_notifications.domain import subscriptions as rules
from procure_notifications.domain.deliveries import Secrets
from procure_notifications.domain.filters import Filter, valid_pattern
from procure_notifications.domain.signing import new_secret
from procure_notifications.domain.subscriptions import Channel, Owner, Subscription, Webhook
from procure_notifications.senders.webhook import Refused, resolve_allowed
from procure_notifications.storage import deliveries as delivery_store
from procure_notifications.storage import subscriptions as subscription_store
from procure_notifications.storage.sealing import SecretBox
from procure_shared.db.audit import Actor, record_change
from procure_shared.db.changes import check_version, found
from procure_shared.db.postgres import Connection, Queries
from procure_shared.errors import RuleBroken

__all__ = [
    "Draft",
    "Viewer",
    "create",
    "delete",
    "get",
    "move",
    "rotate_secret",
    "update",
]


class Viewer(msgspec.Struct, frozen=True, kw_only=True):
    """Who asks: an admin sees every subscription, anyone else their own."""

    actor: Actor
    sub: str
    buyer_id: str | None
    admin: bool

    def owner(self) -> Owner:
        return Owner(sub=self.sub, buyer_id=self.buyer_id, admin=self.admin)


class Draft(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    channel: Channel
    filter: Filter


class Changes(msgspec.Struct, frozen=True, kw_only=True):
    name: str | msgspec.UnsetType = msgspec.UNSET
    channel: Channel | msgspec.UnsetType = msgspec.UNSET
    filter: Filter | msgspec.UnsetType = msgspec.UNSET


async def _check(channel: Channel, f: Filter, allow_loopback: bool) -> None:
    for pattern in f.event_types:
        if not valid_pattern(pattern):
            raise RuleBroken(f"{pattern}: '>' may only be the last token", "filter.eventTypes")
    if isinstance(channel, Webhook):
        try:
            await resolve_allowed(channel.url, allow_loopback=allow_loopback)
        except Refused as exc:
            raise RuleBroken(f"this webhook URL is refused: {exc}", "channel.url") from None


async def create(
    conn: Connection,
    draft: Draft,
    *,
    viewer: Viewer,
    now: datetime,
    allow_loopback: bool,
    cap: int,
    box: SecretBox,
) -> tuple[Subscription, str | None]:
    """A new subscription of the viewer's, unless they have ``cap`` already."""
    if await subscription_store.count_owned(conn, viewer.owner()) >= cap:
        raise RuleBroken(
            f"you have {cap} subscriptions, the most one owner may have: delete one first"
        )
    await _check(draft.channel, draft.filter, allow_loopback)
    made = Subscription(
        id=str(uuid.uuid4()),
        owner=viewer.owner(),
        name=draft.name,
        channel=draft.channel,
        filter=draft.filter,
        status=rules.Status.ACTIVE,
        version=1,
        created_at=now,
        updated_at=now,
    )
    await subscription_store.table.insert(conn, made)
    secret = new_secret() if isinstance(made.channel, Webhook) else None
    if secret is not None:
        await subscription_store.set_secrets(conn, made.id, Secrets(secret, None, None), box)
    await _audit(conn, viewer, now, "created", made.id, None, made)
    return made, secret


async def get(
    conn: Queries, subscription_id: str, *, viewer: Viewer, for_update: bool = False
) -> Subscription:
    s = await subscription_store.visible(
        conn,
        subscription_id,
        buyer=None if viewer.admin else viewer.buyer_id,
        for_update=for_update,
    )
    if s is not None and not viewer.admin and s.owner.sub != viewer.sub:
        s = None
    return found(s, "subscription", subscription_id)


async def update(
    conn: Connection,
    subscription_id: str,
    changes: Changes,
    *,
    expected_version: int | None,
    viewer: Viewer,
    now: datetime,
    allow_loopback: bool,
    box: SecretBox,
) -> tuple[Subscription, str | None]:
    """The subscription as changed, and the signing secret made when its channel became a
    webhook (shown once)."""
    before = await get(conn, subscription_id, viewer=viewer, for_update=True)
    check_version(f"subscription {subscription_id}", before.version, expected_version)
    after = msgspec.structs.replace(
        before,
        name=before.name if changes.name is msgspec.UNSET else changes.name,
        channel=before.channel if changes.channel is msgspec.UNSET else changes.channel,
        filter=before.filter if changes.filter is msgspec.UNSET else changes.filter,
    )
    if after == before:
        return before, None
    await _check(after.channel, after.filter, allow_loopback)
    after = msgspec.structs.replace(after, version=before.version + 1, updated_at=now)
    await subscription_store.table.save(conn, after)
    secret = None
    if isinstance(after.channel, Webhook) and not isinstance(before.channel, Webhook):
        secret = new_secret()
        await subscription_store.set_secrets(conn, after.id, Secrets(secret, None, None), box)
    await _audit(conn, viewer, now, "updated", after.id, before, after)
    return after, secret


async def move(
    conn: Connection,
    subscription_id: str,
    verb: str,
    *,
    expected_version: int | None,
    viewer: Viewer,
    now: datetime,
) -> Subscription:
    """``pause`` or ``resume``."""
    before = await get(conn, subscription_id, viewer=viewer, for_update=True)
    check_version(f"subscription {subscription_id}", before.version, expected_version)
    after = rules.pause(before, now) if verb == "pause" else rules.resume(before, now)
    await subscription_store.table.save(conn, after)
    await _audit(conn, viewer, now, verb + "d", after.id, before, after)
    return after


async def rotate_secret(
    conn: Connection,
    subscription_id: str,
    *,
    viewer: Viewer,
    now: datetime,
    grace: float,
    box: SecretBox,
) -> tuple[Subscription, str]:
    """A new secret signs from now; the previous one signs too for ``grace`` seconds."""
    s = await get(conn, subscription_id, viewer=viewer, for_update=True)
    if not isinstance(s.channel, Webhook):
        raise RuleBroken("only a webhook subscription has a signing secret", "channel")
    old = await subscription_store.secrets_of(conn, s.id, box)
    secret = new_secret()
    await subscription_store.set_secrets(
        conn, s.id, Secrets(secret, old.current, now + timedelta(seconds=grace)), box
    )
    after = msgspec.structs.replace(s, version=s.version + 1, updated_at=now)
    await subscription_store.table.save(conn, after)
    await _audit(conn, viewer, now, "secret_rotated", s.id, s, after)
    return after, secret


async def delete(
    conn: Connection,
    subscription_id: str,
    *,
    expected_version: int | None,
    viewer: Viewer,
    now: datetime,
) -> None:
    """Hidden and disabled: its pending deliveries are cancelled, its deliveries and their
    attempts stay readable (the audit trail keeps what it was)."""
    before = await get(conn, subscription_id, viewer=viewer, for_update=True)
    check_version(f"subscription {subscription_id}", before.version, expected_version)
    await subscription_store.delete(conn, before.id, now)
    await delivery_store.cancel_pending_of(conn, before.id)
    await _audit(conn, viewer, now, "deleted", before.id, before, None)


async def _audit(
    conn: Connection,
    viewer: Viewer,
    now: datetime,
    verb: str,
    subscription_id: str,
    before: Subscription | None,
    after: Subscription | None,
) -> None:
    await record_change(
        conn,
        actor=viewer.actor,
        at=now,
        action=f"notifications.subscription.{verb}",
        resource_type="subscription",
        resource_id=subscription_id,
        before=before,
        after=after,
    )
