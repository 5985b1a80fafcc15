"""PIX charges: the static BR Code ("copia e cola") and its QR code; no bank API is called.

The payload is the EMV® QR Code merchant-presented format as the Banco Central's BR Code manual profiles it: a
string of TLV fields (two-digit id, two-digit length, value), closed by field 63 holding the CRC16-CCITT-FALSE
(polynomial 0x1021, initial value 0xFFFF) of everything before it, "6304" included, as four upper-case hex digits.
"""

import re
import unicodedata
from dataclasses import dataclass

import segno

from app.services.clock import format_money
from app.services.errors import ConflictError, ValidationError

GUI = "br.gov.bcb.pix"
MAX_NAME, MAX_CITY, MAX_TXID = 25, 15, 25
MAX_KEY = 77  # field 26 holds at most 99 characters: the GUI's 18 plus the key's own id and length
NO_TXID = "***"  # what a static charge without a transaction id carries
MAX_AMOUNT_CENTS = 10**13 - 1  # field 54 holds at most 13 characters ("99999999999.99")


def tlv(field_id: str, value: str) -> str:
    """One EMV field: id, length in two digits, value (at most 99 characters)."""
    if len(value) > 99:
        raise ValueError(f"field {field_id} is {len(value)} characters long; EMV allows 99")
    return f"{field_id}{len(value):02d}{value}"


def crc16(data: bytes) -> str:
    """CRC16-CCITT-FALSE of `data` as four upper-case hex digits (the BR Code's field 63)."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return f"{crc:04X}"


def plain_ascii(text: str, limit: int) -> str:
    """`text` without accents or other non-ASCII characters, single-spaced, cut to `limit` characters."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    ascii_text = "".join(c for c in decomposed if c.isascii() and (c.isprintable()))
    return " ".join(ascii_text.split())[:limit].rstrip()


def clean_txid(txid: str | None) -> str:
    """A transaction id of letters and digits only, at most 25 characters ("***" when none is left)."""
    kept = re.sub(r"[^A-Za-z0-9]", "", plain_ascii(txid or "", 200))[:MAX_TXID]
    return kept or NO_TXID


def br_code(key: str, merchant_name: str, merchant_city: str, amount_cents: int | None = None, txid=None) -> str:
    """The static BR Code payload for a PIX key, optionally with a fixed amount and a transaction id."""
    key = (key or "").strip()
    if not key or len(key) > MAX_KEY:
        raise ValueError(f"a PIX key has 1 to {MAX_KEY} characters")
    if amount_cents is not None and not 0 < amount_cents <= MAX_AMOUNT_CENTS:
        raise ValueError("a PIX amount is positive and fits 13 characters")
    name, city = plain_ascii(merchant_name, MAX_NAME), plain_ascii(merchant_city, MAX_CITY)
    if not name or not city:
        raise ValueError("a BR Code needs the merchant's name and city")
    fields = [
        tlv("00", "01"),
        tlv("26", tlv("00", GUI) + tlv("01", key)),
        tlv("52", "0000"),
        tlv("53", "986"),
    ]
    if amount_cents is not None:
        fields.append(tlv("54", f"{amount_cents // 100}.{amount_cents % 100:02d}"))
    fields += [tlv("58", "BR"), tlv("59", name), tlv("60", city), tlv("62", tlv("05", clean_txid(txid)))]
    payload = "".join(fields) + "6304"
    return payload + crc16(payload.encode("utf-8"))


def parse_tlv(payload: str) -> dict[str, str]:
    """The top-level fields of a payload, id → value (for tests and checks)."""
    fields, position = {}, 0
    while position < len(payload):
        field_id, length = payload[position : position + 2], int(payload[position + 2 : position + 4])
        fields[field_id] = payload[position + 4 : position + 4 + length]
        position += 4 + length
    return fields


def qr_svg(payload: str) -> str:
    """The payload as an inline SVG QR code (error correction M), sized by CSS."""
    return segno.make(payload, error="m", micro=False).svg_inline(scale=4, border=2, omitsize=True)


@dataclass(frozen=True)
class PixCharge:
    """What the "Cobrar via PIX" page shows: amount, what it is for, the payload and its QR code."""

    amount_cents: int
    description: str
    txid: str
    payload: str
    svg: str


def charge(settings, amount_cents: int, txid: str, description: str) -> PixCharge:
    """A charge of `amount_cents` with the clinic's PIX key, or ConflictError telling what is missing."""
    missing = [
        label
        for label, value in (
            ("a chave PIX", settings.pix_key),
            ("o nome do recebedor", settings.merchant_name),
            ("a cidade do recebedor", settings.merchant_city),
        )
        if not (value or "").strip()
    ]
    if missing:
        raise ConflictError(
            "Cobrança PIX indisponível: o administrador precisa preencher "
            + ", ".join(missing)
            + " nas configurações da clínica."
        )
    if amount_cents <= 0:
        raise ValidationError({"amount_cents": f"Nada a cobrar: o saldo é {format_money(amount_cents)}."})
    payload = br_code(settings.pix_key, settings.merchant_name, settings.merchant_city, amount_cents, txid)
    return PixCharge(amount_cents, description, clean_txid(txid), payload, qr_svg(payload))
