"""How an SMS body travels: GSM-7 when every character is in the GSM 03.38 alphabet, UCS-2 otherwise, and how many
segments that takes (a long message is split into parts that each carry a concatenation header)."""

import math
from dataclasses import dataclass

# GSM 03.38 basic character set (one septet each) and its extension table (an escape plus one septet: two).
_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = set("^{}\\[~]|€\f")

GSM7_SINGLE, GSM7_PART = 160, 153  # septets
UCS2_SINGLE, UCS2_PART = 70, 67  # UTF-16 code units
MAX_SEGMENTS = 10


@dataclass(frozen=True)
class BodyEncoding:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int


def body_encoding(text: str) -> BodyEncoding:
    if all(char in _GSM_BASIC or char in _GSM_EXTENDED for char in text):
        units = sum(2 if char in _GSM_EXTENDED else 1 for char in text)
        single, part, name = GSM7_SINGLE, GSM7_PART, "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2  # characters beyond the BMP take two units
        single, part, name = UCS2_SINGLE, UCS2_PART, "UCS-2"
    segments = 1 if units <= single else math.ceil(units / part)
    return BodyEncoding(encoding=name, units=units, segments=segments)


def non_gsm_characters(text: str) -> str:
    """The characters that force UCS-2, for an error message that says what to change."""
    seen = dict.fromkeys(char for char in text if char not in _GSM_BASIC and char not in _GSM_EXTENDED)
    return "".join(seen)
