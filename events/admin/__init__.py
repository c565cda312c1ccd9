"""The events app's operator pages; importing the modules registers them."""

from events.admin import automations, dashboards, reputation, timeline, webhooks
from events.broadcasts import admin as broadcasts

__all__ = ["automations", "broadcasts", "dashboards", "reputation", "timeline", "webhooks"]
