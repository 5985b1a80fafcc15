"""WhatsApp "click to chat" links: `https://wa.me/<E.164 digits>?text=<message>`.

No API and no account: the link opens WhatsApp Web or the app on the receptionist's machine with the message
filled in. The message is a clinic template (app/services/settings.py) filled with the visit's values and
URL-encoded as a whole; Jinja escapes the finished link when a page prints it in an `href`.
"""

import functools
from urllib.parse import quote

import phonenumbers

from app.services.settings import fill_template
from app.services.validation import stored_phone

BASE_URL = "https://wa.me/"
MOBILE_TYPES = frozenset({phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE})


@functools.lru_cache(maxsize=4096)
def is_mobile(phone: str | None) -> bool:
    """Whether a stored (E.164) phone is a mobile number that can receive WhatsApp messages (once per phone)."""
    number = stored_phone(phone)
    return number is not None and phonenumbers.number_type(number) in MOBILE_TYPES


def link(phone: str | None, template: str, values: dict[str, str]) -> str | None:
    """The wa.me link to a stored mobile phone with the filled template as its text, or None without a mobile."""
    if not is_mobile(phone):
        return None
    digits = phonenumbers.format_number(stored_phone(phone), phonenumbers.PhoneNumberFormat.E164).lstrip("+")
    return f"{BASE_URL}{digits}?text={quote(fill_template(template, values), safe='')}"
