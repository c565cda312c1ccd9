"""How a transport reports that a message did not go out, in words the delivery engine acts on."""

import enum


class FailureKind(enum.Enum):
    THROTTLED = "throttled"  # the provider's rate limit: back off briefly and retry
    QUOTA = "quota"  # the provider's daily quota: hold the connection until the window allows
    TRANSIENT = "transient"  # network trouble or a 5xx: retry, up to SESAME_MAX_SEND_ATTEMPTS
    PERMANENT = "permanent"  # the provider refused this message: fail it with the reason


class TransportError(Exception):
    """The one error every transport (SES, SNS SMS, SNS push, the simulators) raises."""

    def __init__(self, kind: FailureKind, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


class MessageDropped(Exception):
    """Raised by a channel's `prepare` when policy says this message must not go out at all (the number opted out,
    a spend limit is reached): the engine gives its rate units back and settles it with `status` and the reason,
    without calling the provider and without retrying."""

    def __init__(self, reason: str, *, status: str = "suppressed") -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
