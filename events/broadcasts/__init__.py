"""Broadcasts: one template sent to an audience of contacts, through the delivery engine (see services)."""
