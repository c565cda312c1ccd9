"""Unsubscribe links and addresses (contacts/unsubscribe.py).

SESAME_UNSUBSCRIBE_SECRET keys the HMAC of every unsubscribe token; when empty it is derived from SECRET_KEY, so
changing either invalidates the links in mail already sent. SESAME_INBOUND_DOMAIN is the domain whose inbound mail
reaches Sesame (SES receiving); the List-Unsubscribe mailto address is unsubscribe+<token>@ that domain, and the
public URL's host when it is empty.
"""

from urllib.parse import urlsplit

from config.env import env_str
from config.settings.aws import SESAME_PUBLIC_URL

SESAME_UNSUBSCRIBE_SECRET = env_str("SESAME_UNSUBSCRIBE_SECRET")
SESAME_INBOUND_DOMAIN = env_str("SESAME_INBOUND_DOMAIN") or (urlsplit(SESAME_PUBLIC_URL).hostname or "localhost")
