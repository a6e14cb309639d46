"""French phone numbers: E.164 normalisation and what kind of line a number is.

The SMS step needs E.164 ("+33612345678") and must know whether a number can receive an SMS
at all: a landline or a VoIP number given as a callback number cannot, and the workflow must
then ask a person to call back instead. The numbering plans are Google's libphonenumber
metadata (`phonenumbers`), kept up to date with the regulators' allocations: metropolitan
France (ARCEP) plus the overseas territories that are dialled like the mainland from a 0
but carry their own country code (La Réunion, Mayotte, the Antilles, Guyane,
Saint-Pierre-et-Miquelon).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from enum import StrEnum

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType
from phonenumbers.phonemetadata import PhoneMetadata

__all__ = ["LineKind", "is_mobile_fr", "line_kind", "phone_key", "to_e164"]

# phonenumbers loads a region's metadata on first use, behind a lock it creates then: inside a
# workflow (which normalises callback numbers) the sandbox forbids creating a lock, and the
# workflow task would fail. Loading every region now, at import (~80 ms once per process, under
# `imports_passed_through()` for the workflows), keeps the calls pure afterwards.
PhoneMetadata.load_all()


class LineKind(StrEnum):
    MOBILE = "mobile"  # 06, 07
    GEOGRAPHIC = "geographic"  # 01-05
    NON_GEOGRAPHIC = "non_geographic"  # 09: VoIP boxes, no SMS
    SPECIAL = "special"  # 08: free / shared-cost / premium services
    OTHER = "other"  # foreign, short, unallocated or unknown


# Regions whose numbers are dialled from a national 0 like the mainland's. A national number is
# tried overseas first: the metadata also accepts some overseas ranges under +33 ("0596…"),
# but they are dialled back with the territory's own code (+596 596…).
_OVERSEAS_REGIONS = ("RE", "YT", "GP", "BL", "MF", "GF", "MQ")
_FRENCH_REGIONS = (*_OVERSEAS_REGIONS, "FR", "PM")
_KINDS = {
    PhoneNumberType.MOBILE: LineKind.MOBILE,
    PhoneNumberType.FIXED_LINE: LineKind.GEOGRAPHIC,
    PhoneNumberType.VOIP: LineKind.NON_GEOGRAPHIC,
    PhoneNumberType.TOLL_FREE: LineKind.SPECIAL,
    PhoneNumberType.PREMIUM_RATE: LineKind.SPECIAL,
    PhoneNumberType.SHARED_COST: LineKind.SPECIAL,
    PhoneNumberType.UAN: LineKind.SPECIAL,
}
_TRUNK_ZERO = re.compile(r"\(0\)")
_SEPARATORS = re.compile(r"[\s.\-/()]")


def _parse(text: str, region: str) -> phonenumbers.PhoneNumber | None:
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


def _e164(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _possible_metropolitan(text: str) -> str | None:
    """+33 E.164 of a number of the metropolitan plan's shape in a range the metadata does not
    allocate (yet): operators get new blocks before the metadata knows them, and a caller's
    number must not be lost for that. Its kind then follows the prefix (`line_kind`)."""
    try:
        number = phonenumbers.parse(text, "FR")
    except NumberParseException:
        return None
    if number.country_code != 33 or not phonenumbers.is_possible_number(number):
        return None
    e164 = _e164(number)
    return e164 if re.fullmatch(r"\+33[1-9]\d{8}", e164) else None


def to_e164(raw: str, default_country: str = "FR") -> str | None:
    """E.164 form of a French number: "06 12 34 56 78", "+33 6 12 34 56 78", "0033612345678",
    "+33 (0)6 12 34 56 78", "33612345678" → "+33612345678". Overseas numbers in national
    form get their own country code ("0692..." → "+262692...", "0508..." is metropolitan).

    Numbers in international form for another country are kept when they are valid there.
    None when the text is not a valid, allocated phone number."""
    if default_country.upper() != "FR":
        raise ValueError(f"pays par défaut non pris en charge : {default_country!r}")
    text = _SEPARATORS.sub("", _TRUNK_ZERO.sub("", raw.strip()))
    if text.startswith("00"):
        text = "+" + text[2:]
    if not re.fullmatch(r"\+?\d+", text):
        return None
    if text.startswith("+"):
        found = _parse(text, "FR")
        if found is not None:
            return _e164(found)
        if re.fullmatch(r"\+330?\d{9}", text):
            # An overseas number presented with +33 (+33 692…): dialled back with its own code.
            return _national(text[-9:], _OVERSEAS_REGIONS) or _possible_metropolitan(text)
        return None
    if len(text) == 11 and text.startswith("33"):
        return to_e164("+" + text)
    if len(text) == 9 and text[0] != "0":
        # Caller ids sometimes arrive without the trunk zero.
        text = "0" + text
    if len(text) != 10 or not text.startswith("0"):
        return None
    return _national(text[1:], _FRENCH_REGIONS) or _possible_metropolitan(text)


def _national(nsn: str, regions: tuple[str, ...]) -> str | None:
    """E.164 of a 9-digit national significant number, in the first region where it is
    valid."""
    for region in regions:
        found = _parse("0" + nsn, region)
        if found is not None:
            return _e164(found)
    return None


# The metropolitan plan by prefix, for numbers in ranges the metadata does not allocate: 06 and
# 07 mobiles except 07 00 (machine-to-machine lines, 14 digits: never a 10-digit mobile).
_UNALLOCATED_KINDS = (
    (re.compile(r"\+3370"), LineKind.OTHER),
    (re.compile(r"\+33[67]"), LineKind.MOBILE),
    (re.compile(r"\+33[1-5]"), LineKind.GEOGRAPHIC),
    (re.compile(r"\+339"), LineKind.NON_GEOGRAPHIC),
    (re.compile(r"\+338"), LineKind.SPECIAL),
)


def line_kind(e164: str) -> LineKind:
    """What an E.164 number is in the plans of France and its overseas territories."""
    if not e164.startswith("+"):
        return LineKind.OTHER
    number = _parse(e164, "FR")
    if number is None:
        if _possible_metropolitan(e164) != e164:
            return LineKind.OTHER
        return next(kind for prefix, kind in _UNALLOCATED_KINDS if prefix.match(e164))
    if phonenumbers.region_code_for_number(number) not in _FRENCH_REGIONS:
        return LineKind.OTHER
    return _KINDS.get(phonenumbers.number_type(number), LineKind.OTHER)


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
