"""Unsubscribe tokens, links and the RFC 8058 headers. A stable interface for every sender and for inbound mail:

- `unsubscribe_token(account_id=, contact_id=, topic_id=) -> str`: the opaque token of one (account, contact,
  topic) triple; `topic_id=None` means "all bulk mail of the account". Always the same token for the same triple.
- `unsubscribe_token_read(token) -> (account_id, contact_id, topic_id)`: raises `InvalidUnsubscribeToken` for
  anything that was not made by `unsubscribe_token` with this deployment's key (or whose contact is gone).
- `unsubscribe_url(token)` (`/u/<token>`: confirmation page and the one-click POST), `preferences_url(token)`
  (`/u/<token>/preferences`), `unsubscribe_mailto(token)` (`unsubscribe+<token>@<SESAME_INBOUND_DOMAIN>`).
- `unsubscribe_headers(account_id=, contact_id=, topic_id=) -> dict`: exactly the two headers RFC 8058 asks of a
  bulk email, `List-Unsubscribe: <https://…/u/<token>>, <mailto:…>` and
  `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (`list_unsubscribe_headers(token)` when the token is made).
- Unsubscribing itself is the service `contacts.subscriptions.contact_unsubscribe(contact=, topic=, source=)`.

The token is 24 bytes in lower-case base32 (39 characters, so `unsubscribe+<token>` fits a 64-octet local part
and survives mail systems that fold case): a 96-bit HMAC-SHA256 tag of (account, contact, topic), then the
(contact, topic) ids encrypted with a keystream derived from that tag (a synthetic-IV construction). It reveals
nothing, and without the key no token can be made or guessed: each guess has a 2**-96 chance.
"""

import base64
import hashlib
import hmac
import struct
import uuid
from functools import cache

from django.conf import settings

from contacts.models import Contact

_TAG_BYTES = 12
_IDS = struct.Struct(">QI")  # contact id, topic id (0: all topics)
HEADER_POST_VALUE = "List-Unsubscribe=One-Click"


class InvalidUnsubscribeToken(ValueError):
    pass


@cache
def _keys(secret: str) -> tuple[bytes, bytes]:
    root = hashlib.sha256(f"sesame-unsubscribe:{secret}".encode()).digest()
    return (
        hmac.new(root, b"tag", hashlib.sha256).digest(),
        hmac.new(root, b"encrypt", hashlib.sha256).digest(),
    )


def _secret() -> str:
    return settings.SESAME_UNSUBSCRIBE_SECRET or settings.SECRET_KEY


def _tag(account_id: uuid.UUID, ids: bytes) -> bytes:
    return hmac.new(_keys(_secret())[0], uuid.UUID(str(account_id)).bytes + ids, hashlib.sha256).digest()[:_TAG_BYTES]


def _keystream(tag: bytes) -> bytes:
    return hmac.new(_keys(_secret())[1], tag, hashlib.sha256).digest()[: _IDS.size]


def unsubscribe_token(*, account_id: uuid.UUID | str, contact_id: int, topic_id: int | None) -> str:
    ids = _IDS.pack(contact_id, topic_id or 0)
    tag = _tag(uuid.UUID(str(account_id)), ids)
    sealed = bytes(a ^ b for a, b in zip(ids, _keystream(tag), strict=True))
    return base64.b32encode(tag + sealed).decode("ascii").rstrip("=").lower()


def unsubscribe_token_read(token: str) -> tuple[uuid.UUID, int, int | None]:
    """(account id, contact id, topic id or None) of a token; one indexed read (the contact's account)."""
    try:
        raw = base64.b32decode(token.strip().upper() + "=" * (-len(token.strip()) % 8))
    except (ValueError, UnicodeError) as exc:
        raise InvalidUnsubscribeToken("not an unsubscribe token") from exc
    # Only the one spelling the token was issued in: base32's last character carries spare bits, and a token that
    # differs in them must not read as the same one.
    canonical = base64.b32encode(raw).decode().rstrip("=").lower()
    if len(raw) != _TAG_BYTES + _IDS.size or canonical != token.strip().lower():
        raise InvalidUnsubscribeToken("not an unsubscribe token")
    tag, sealed = raw[:_TAG_BYTES], raw[_TAG_BYTES:]
    ids = bytes(a ^ b for a, b in zip(sealed, _keystream(tag), strict=True))
    contact_id, topic_id = _IDS.unpack(ids)
    account_id = Contact.objects.filter(pk=contact_id).values_list("account_id", flat=True).first()
    if account_id is None or not hmac.compare_digest(tag, _tag(account_id, ids)):
        raise InvalidUnsubscribeToken("not an unsubscribe token, or its contact was deleted")
    return account_id, contact_id, topic_id or None


def unsubscribe_url(token: str) -> str:
    return f"{settings.SESAME_PUBLIC_URL}/u/{token}"


def preferences_url(token: str) -> str:
    return f"{settings.SESAME_PUBLIC_URL}/u/{token}/preferences"


def unsubscribe_mailto(token: str) -> str:
    return f"unsubscribe+{token}@{settings.SESAME_INBOUND_DOMAIN}"


def unsubscribe_headers(*, account_id: uuid.UUID | str, contact_id: int, topic_id: int | None) -> dict[str, str]:
    return list_unsubscribe_headers(unsubscribe_token(account_id=account_id, contact_id=contact_id, topic_id=topic_id))


def list_unsubscribe_headers(token: str) -> dict[str, str]:
    return {
        "List-Unsubscribe": f"<{unsubscribe_url(token)}>, <mailto:{unsubscribe_mailto(token)}>",
        "List-Unsubscribe-Post": HEADER_POST_VALUE,
    }
