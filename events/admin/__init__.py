"""The events app's operator pages; importing the modules registers them."""

from events.admin import automations, dashboards, reputation, timeline, webhooks

__all__ = ["automations", "dashboards", "reputation", "timeline", "webhooks"]
