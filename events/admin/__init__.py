"""The events app's operator pages; importing the modules registers them."""

from events.admin import reputation, timeline, webhooks

__all__ = ["reputation", "timeline", "webhooks"]
