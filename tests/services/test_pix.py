"""The static PIX BR Code: TLV fields, name and city limits, CRC16 and the Banco Central's worked example."""

import binascii
from types import SimpleNamespace

import pytest
import segno
from hypothesis import given
from hypothesis import strategies as st

from app.services import pix
from app.services.errors import ConflictError

# The BR Code manual's example (Manual de Padrões para Iniciação do Pix, Banco Central do Brasil), widely quoted:
# key 123e4567-e12b-12d1-a456-426655440000, "Fulano de Tal", BRASILIA, no amount, no transaction id.
BCB_EXAMPLE = (
    "00020126580014br.gov.bcb.pix0136123e4567-e12b-12d1-a456-4266554400005204000053039865802BR"
    "5913Fulano de Tal6008BRASILIA62070503***63041D3D"
)
KEY = "123e4567-e12b-12d1-a456-426655440000"


def walk(payload: str) -> list[tuple[str, int, str]]:
    """Every top-level (id, declared length, value), checking each declared length against what follows."""
    fields, position = [], 0
    while position < len(payload):
        field_id, length = payload[position : position + 2], int(payload[position + 2 : position + 4])
        value = payload[position + 4 : position + 4 + length]
        assert len(value) == length, f"field {field_id} declares {length} and holds {len(value)}"
        fields.append((field_id, length, value))
        position += 4 + length
    assert position == len(payload)
    return fields


def crc_ok(payload: str) -> bool:
    """Whether field 63 holds the CRC an independent implementation computes over the rest ("6304" included)."""
    return payload[-4:] == f"{binascii.crc_hqx(payload[:-4].encode(), 0xFFFF):04X}"


def test_builder_reproduces_the_banco_central_example_exactly():
    """Key, name and city of the manual's example give its payload to the last CRC digit."""
    assert pix.br_code(KEY, "Fulano de Tal", "BRASILIA") == BCB_EXAMPLE


def test_the_example_crc_agrees_with_binascii():
    """Our CRC16-CCITT-FALSE and binascii's crc_hqx agree on the example (1D3D)."""
    assert pix.crc16(BCB_EXAMPLE[:-4].encode()) == "1D3D"
    assert crc_ok(BCB_EXAMPLE)


@given(st.binary(max_size=300))
def test_crc_agrees_with_binascii_on_any_bytes(data):
    """The hand-written CRC is the standard one, upper-case hex, four digits."""
    assert pix.crc16(data) == f"{binascii.crc_hqx(data, 0xFFFF):04X}"


def test_every_field_length_is_right_with_an_amount_and_txid():
    """Each TLV length matches its value, nested fields 26 and 62 included; fields in the manual's order."""
    payload = pix.br_code("+5511987654321", "Clínica Sorriso", "São Paulo", 123_456, "P12N3")
    fields = walk(payload)
    assert [f[0] for f in fields] == ["00", "26", "52", "53", "54", "58", "59", "60", "62", "63"]
    values = {field_id: value for field_id, _length, value in fields}
    assert values["00"] == "01"
    assert walk(values["26"]) == [("00", 14, "br.gov.bcb.pix"), ("01", 14, "+5511987654321")]
    assert values["52"] == "0000" and values["53"] == "986" and values["58"] == "BR"
    assert values["54"] == "1234.56"
    assert values["59"] == "Clinica Sorriso" and values["60"] == "Sao Paulo"
    assert walk(values["62"]) == [("05", 5, "P12N3")]
    assert crc_ok(payload)


@pytest.mark.parametrize("cents, text", [(1, "0.01"), (100, "1.00"), (123_456, "1234.56"), (100_000_000, "1000000.00")])
def test_amount_is_written_with_a_point_and_two_decimals(cents, text):
    """Field 54 carries the exact amount as `1234.56`."""
    assert pix.parse_tlv(pix.br_code(KEY, "A", "B", cents))["54"] == text


def test_name_and_city_lose_accents_and_are_cut_to_25_and_15_characters():
    """The merchant name keeps 25 ASCII characters, the city 15, accents removed (unicodedata), CRC still right."""
    payload = pix.br_code(KEY, "Clínica Odontológica Açaí Ltda ME", "São José do Rio Preto", 5_000)
    values = pix.parse_tlv(payload)
    assert values["59"] == "Clinica Odontologica Acai"
    assert len(values["59"]) == 25
    assert values["60"] == "Sao Jose do Rio"
    assert len(values["60"]) == 15
    assert payload.isascii()
    walk(payload)
    assert crc_ok(payload)


def test_txid_keeps_letters_and_digits_only_and_at_most_25():
    """A transaction id loses punctuation and accents and is cut to 25; an empty one becomes ***."""
    assert pix.clean_txid("Plano-12/Parcela 3 ção") == "Plano12Parcela3cao"
    assert len(pix.clean_txid("X" * 40)) == 25
    assert pix.clean_txid("--") == "***"


@given(
    name=st.text(min_size=1, max_size=60).filter(lambda s: pix.plain_ascii(s, 25)),
    city=st.text(min_size=1, max_size=40).filter(lambda s: pix.plain_ascii(s, 15)),
    cents=st.integers(min_value=1, max_value=100_000_000),
    txid=st.text(max_size=40),
)
def test_any_name_city_amount_and_txid_give_a_well_formed_payload(name, city, cents, txid):
    """Whatever the settings hold, every length is right, name ≤ 25, city ≤ 15, and the CRC verifies."""
    payload = pix.br_code(KEY, name, city, cents, txid)
    values = {field_id: value for field_id, _length, value in walk(payload)}
    assert len(values["59"]) <= 25 and len(values["60"]) <= 15
    assert payload.isascii()
    assert crc_ok(payload)


def test_qr_code_encodes_exactly_the_payload():
    """The SVG is segno's QR of the payload itself (byte mode, error correction M), with no size attributes."""
    payload = pix.br_code(KEY, "Fulano de Tal", "BRASILIA", 10_000, "ABC")
    expected = segno.make(payload, error="m", micro=False)
    assert expected.mode == "byte" and expected.error == "M"
    svg = pix.qr_svg(payload)
    assert svg == expected.svg_inline(scale=4, border=2, omitsize=True)
    assert svg.startswith("<svg") and "<script" not in svg and "style=" not in svg


def test_charge_without_key_tells_the_admin_to_fill_the_settings():
    """Missing key, name or city: a ConflictError naming what to fill in the clinic settings."""
    settings = SimpleNamespace(pix_key=None, merchant_name="Clínica", merchant_city="")
    with pytest.raises(ConflictError, match="chave PIX.*cidade.*configurações"):
        pix.charge(settings, 1_000, "T1", "Plano")


def test_charge_carries_payload_qr_and_amount():
    """A configured clinic gets a payload for the exact amount and its QR."""
    settings = SimpleNamespace(pix_key=KEY, merchant_name="Clínica", merchant_city="Campinas")
    charge = pix.charge(settings, 12_345, "P7", "Plano #7")
    assert pix.parse_tlv(charge.payload)["54"] == "123.45"
    assert charge.svg.startswith("<svg") and charge.txid == "P7"
