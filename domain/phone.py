"""French phone numbers: E.164 normalisation and what kind of line a number is.

The SMS step needs E.164 ("+33612345678") and must know whether a number can receive an SMS
at all: a landline or a VoIP number given as a callback number cannot, and the workflow must
then ask a person to call back instead. Numbering plan: ARCEP (metropolitan France) plus the
overseas departments that share the French plan with their own country codes.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from enum import StrEnum

__all__ = ["LineKind", "is_mobile_fr", "line_kind", "phone_key", "to_e164"]


class LineKind(StrEnum):
    MOBILE = "mobile"  # 06, 07
    GEOGRAPHIC = "geographic"  # 01-05
    NON_GEOGRAPHIC = "non_geographic"  # 09: VoIP boxes, no SMS
    SPECIAL = "special"  # 08: free / shared-cost / premium services
    OTHER = "other"  # foreign, short or unknown


# Overseas departments dial like the mainland (10 digits from 0) but have their own country
# code; the national number keeps its first digits after the country code
# (0692 12 34 56 → +262 692 12 34 56).
_OVERSEAS_PREFIXES: dict[str, str] = {
    "262": "262",  # La Réunion, fixed
    "263": "262",
    "692": "262",  # La Réunion, mobile
    "693": "262",
    "269": "262",  # Mayotte, fixed
    "639": "262",  # Mayotte, mobile
    "590": "590",  # Guadeloupe, Saint-Martin, Saint-Barthélemy, fixed
    "690": "590",  # mobile
    "691": "590",
    "594": "594",  # Guyane, fixed
    "694": "594",  # mobile
    "596": "596",  # Martinique, fixed
    "696": "596",  # mobile
    "697": "596",
    "508": "508",  # Saint-Pierre-et-Miquelon
}
_OVERSEAS_MOBILE = {
    "262": ("692", "693", "639"),
    "590": ("690", "691"),
    "594": ("694",),
    "596": ("696", "697"),
}

_TRUNK_ZERO = re.compile(r"\(0\)")
_SEPARATORS = re.compile(r"[\s.\-/()]")


def to_e164(raw: str, default_country: str = "FR") -> str | None:
    """E.164 form of a French number: "06 12 34 56 78", "+33 6 12 34 56 78", "0033612345678",
    "+33 (0)6 12 34 56 78", "33612345678" → "+33612345678". Overseas numbers in national
    form get their own country code ("0692..." → "+262692...").
    Numbers already in international form for another country are kept when their length is
    plausible. None when the text is not a phone number."""
    if default_country.upper() != "FR":
        raise ValueError(f"pays par défaut non pris en charge : {default_country!r}")
    text = _TRUNK_ZERO.sub("", raw.strip())
    text = _SEPARATORS.sub("", text)
    if text.startswith("00"):
        text = "+" + text[2:]
    if not re.fullmatch(r"\+?\d+", text):
        return None
    if text.startswith("+"):
        digits = text[1:]
        if digits.startswith("33"):
            national = digits[2:]
            national = national[1:] if national.startswith("0") else national
            # Written with +33, the number stays +33 even in an overseas range: that is how
            # the telephony presents it and how it will be dialled back.
            return f"+33{national}" if re.fullmatch(r"[1-9]\d{8}", national) else None
        # Another country: no numbering plan at hand. E.164 allows up to 15 digits; below 10
        # hardly any country has mobile numbers, and SMS is what the number is for.
        return "+" + digits if 10 <= len(digits) <= 15 and digits[0] != "0" else None
    if len(text) == 10 and text.startswith("0"):
        return _french(text[1:])
    if len(text) == 11 and text.startswith("33"):
        return to_e164("+" + text)
    if len(text) == 9 and text[0] != "0":
        # Caller ids sometimes arrive without the trunk zero.
        return _french(text)
    return None


def _french(nsn: str) -> str | None:
    """E.164 from a 9-digit national significant number ("612345678")."""
    if not re.fullmatch(r"[1-9]\d{8}", nsn):
        return None
    overseas = _OVERSEAS_PREFIXES.get(nsn[:3])
    if overseas is not None:
        return f"+{overseas}{nsn}"
    return f"+33{nsn}"


def line_kind(e164: str) -> LineKind:
    """What an E.164 number is in the French plan."""
    if re.fullmatch(r"\+33[1-9]\d{8}", e164):
        first = e164[3]
        if first in "67":
            return LineKind.MOBILE
        if first in "12345":
            return LineKind.GEOGRAPHIC
        if first == "9":
            return LineKind.NON_GEOGRAPHIC
        return LineKind.SPECIAL
    for code, mobile_prefixes in _OVERSEAS_MOBILE.items():
        if re.fullmatch(rf"\+{code}\d{{9}}", e164):
            nsn = e164[1 + len(code) :]
            return LineKind.MOBILE if nsn.startswith(mobile_prefixes) else LineKind.GEOGRAPHIC
    return LineKind.OTHER


def is_mobile_fr(e164: str) -> bool:
    """True for a French mobile number (06, 07, and the overseas mobile ranges), the only
    ones an SMS can reach. Landlines (01-05), VoIP (09) and service numbers (08) are not."""
    return line_kind(e164) is LineKind.MOBILE


PHONE_KEY_CHARS = 32


def sms_mobile(callback: str, caller: str) -> str:
    """The number to text: the callback number the caller gave if it can receive SMS, else
    the caller id if it can; "" when neither can."""
    for number in (callback, to_e164(caller) or caller):
        if number and is_mobile_fr(number):
            return number
    return ""


def sms_recipient(callback: str, caller: str) -> str:
    """sms_mobile, else the callback number or the caller id as they are: the SMS activity
    refuses a non-mobile number and the case goes to an agent."""
    return sms_mobile(callback, caller) or callback or to_e164(caller) or caller


def phone_key(e164: str, secret: bytes) -> str:
    """A keyed hash of a number (HMAC-SHA256, first 32 hex digits): what the `SmsPhoneKey`
    search attribute holds, so that an incoming SMS finds the case that texted its sender
    while the Temporal server never sees the number. Keyed rather than a plain hash because
    French mobile numbers are few enough (~10^8) to be hashed exhaustively; 128 bits keep
    collisions out of reach. The caller passes the E.164 form: "06 12..." and "+336 12..."
    must give the same key."""
    if not secret:
        raise ValueError("phone_key: empty secret")
    digest = hmac.new(secret, e164.encode("utf-8"), hashlib.sha256).hexdigest()
    return digest[:PHONE_KEY_CHARS]
