"""The operator console for contacts: contacts with their timelines, tags, saved segments and CSV imports."""

from contacts.admin import contacts, imports, segments

__all__ = ["contacts", "imports", "segments"]
