"""The tenant context of an API token, cached in each web process and checked on every request.

Resolving a token costs a join of token, account and plan, and accepting an email adds the account's connections
and verified identities: most of an accept's CPU is the ORM compiling those queries. So each process keeps them,
per token, as loaded model instances, and any app can memoise more per-tenant state on the cached account
(`tenant_memo`).

**Revocation is immediate, in every process.** Each account has a version in Redis (a random string, so a Redis
flush invalidates every cache rather than resurrecting an old number). Every write that changes what the cache holds
(a token revoked, an account suspended or moved to another plan, a connection changed or removed, an identity
verified or deleted) sets a new version once its transaction commits (`tenant_changed`, wired to the models'
signals and querysets). Every request reads the version in the round trip it makes anyway: the rate-limit script
compares it with the cached one and counts the request only when they match. On a mismatch the context is loaded
again, after the version was read, so a cache can be older than its version but never newer.

Without Redis (the embedded default: one web process) nothing is cached.
"""

import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import signals

from accounts.models import ApiToken
from accounts.ratelimit import Decision, shared_redis, versioned_hit

# An entry per token in use; a process that sees more than this starts afresh (tokens are few in practice).
MAX_ENTRIES = 10_000
_MEMO_ATTR = "_sesame_tenant_memo"


def _version_key(account_id: Any) -> str:
    return f"sesame:tenant:{account_id}"


@dataclass
class _Entry:
    token: ApiToken
    version: str
    memo: dict[str, Any] = field(default_factory=dict)


_entries: dict[str, _Entry] = {}
_account_of: dict[str, Any] = {}  # token hash -> account id: a token never changes account
_lock = threading.Lock()


def _load(token_hash: str) -> ApiToken | None:
    return ApiToken.objects.select_related("account", "account__plan").filter(token_hash=token_hash).first()


def _account_id(token_hash: str) -> Any:
    account_id = _account_of.get(token_hash)
    if account_id is None:
        account_id = ApiToken.objects.filter(token_hash=token_hash).values_list("account_id", flat=True).first()
        if account_id is not None:
            if len(_account_of) >= MAX_ENTRIES:
                _account_of.clear()
            _account_of[token_hash] = account_id
    return account_id


def token_resolve(token_hash: str) -> tuple[ApiToken | None, Decision | None]:
    """The token for this hash with its account and plan, and the rate-limit decision for this request (None
    without Redis: the throttle then counts the request itself)."""
    if shared_redis() is None:
        return _load(token_hash), None
    entry = _entries.get(token_hash)
    for _ in range(3):
        if entry is not None:
            limit = entry.token.account.plan.api_requests_per_minute
            version, decision = versioned_hit(
                _version_key(entry.token.account_id), f"account:{entry.token.account_id}",
                expected=entry.version, fresh=uuid.uuid4().hex, limit=limit,
            )  # fmt: skip
            if decision is not None:
                return entry.token, decision
        else:
            account_id = _account_id(token_hash)
            if account_id is None:
                return None, None
            version, _ = versioned_hit(_version_key(account_id), None, expected="", fresh=uuid.uuid4().hex, limit=0)
        # Changed since cached (or never cached): load after reading the version, so the entry is never newer.
        token = _load(token_hash)
        if token is None:
            _entries.pop(token_hash, None)
            return None, None
        entry = _Entry(token, version)
        setattr(token.account, _MEMO_ATTR, entry.memo)
        with _lock:
            if len(_entries) >= MAX_ENTRIES:
                _entries.clear()
            _entries[token_hash] = entry
    raise RuntimeError("The account's state kept changing while its token was being resolved; try again.")


def tenant_memo(account: Any, key: str, load: Any) -> Any:
    """`load()`, remembered with the account's cached context until that account's version changes. An account
    that did not come from the cache (admin, tasks, tests) simply loads."""
    memo: dict[str, Any] | None = getattr(account, _MEMO_ATTR, None)
    if memo is None:
        return load()
    if key not in memo:
        memo[key] = load()
    return memo[key]


def tenant_changed(*account_ids: Any) -> None:
    """Invalidate these accounts' cached contexts in every process: now, and again once the current transaction
    commits (a process that reloads in between reads the old state; the second bump makes it read again)."""
    redis = shared_redis()
    if redis is None or not account_ids:
        return
    keys = {_version_key(account_id) for account_id in account_ids if account_id is not None}

    def bump() -> None:
        with redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.set(key, uuid.uuid4().hex)
            pipe.execute()

    bump()
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(bump)


def tenant_track(model: Any, *, account_of: Any) -> None:
    """Saving or deleting a `model` row invalidates the cached context of `account_of(row)`'s accounts (bulk
    updates do so through TenantStateQuerySet)."""

    def changed(sender: Any, instance: Any, **kwargs: Any) -> None:
        tenant_changed(*account_of(instance))

    signals.post_save.connect(changed, sender=model, weak=False, dispatch_uid=f"tenant-cache-save-{model.__name__}")
    signals.post_delete.connect(changed, sender=model, weak=False, dispatch_uid=f"tenant-cache-del-{model.__name__}")
