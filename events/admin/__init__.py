"""The events app's operator pages; importing the modules registers them."""

from events.admin import dashboards, reputation, timeline, webhooks

__all__ = ["dashboards", "reputation", "timeline", "webhooks"]
