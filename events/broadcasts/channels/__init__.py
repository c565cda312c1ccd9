"""Broadcast channels: what a broadcast needs of email, SMS and push (base.py), one module each, registered here."""

from events.broadcasts.channels.base import BroadcastChannel, Enqueued, Recipient
from events.broadcasts.channels.email import EmailBroadcastChannel
from events.broadcasts.channels.push import PushBroadcastChannel
from events.broadcasts.channels.sms import SmsBroadcastChannel

_channels: dict[str, BroadcastChannel] = {
    channel.name: channel for channel in (EmailBroadcastChannel(), SmsBroadcastChannel(), PushBroadcastChannel())
}


def broadcast_channel(name: str) -> BroadcastChannel:
    return _channels[name]


def broadcast_channel_names() -> list[str]:
    return sorted(_channels)


__all__ = ["BroadcastChannel", "Enqueued", "Recipient", "broadcast_channel", "broadcast_channel_names"]
