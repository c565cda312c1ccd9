"""The operator console for contacts: contacts with their timelines, tags, saved segments, CSV imports, topics
with their opt-outs, and each account's preference-page settings."""

from contacts.admin import contacts, imports, segments, topics

__all__ = ["contacts", "imports", "segments", "topics"]
