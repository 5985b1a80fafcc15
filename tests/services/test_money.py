"""Money typed the Brazilian way (`1.234,56`) into integer cents, and written in words on receipts. No database."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.services.clock import amount_in_words, format_money, format_money_input, parse_money
from app.services.errors import ValidationError


@pytest.mark.parametrize(
    "typed, cents",
    [
        ("1.234,56", 123_456),
        ("1234,56", 123_456),
        ("1234,5", 123_450),
        ("1234", 123_400),
        ("0,50", 50),
        ("0", 0),
        ("R$ 80", 8_000),
        (" R$ 1.000 ", 100_000),
        ("R$1.234.567,89", 123_456_789),
        ("-5,00", -500),
        ("-R$ 5,00", -500),
        ("1,230", 123),
    ],
)
def test_brazilian_amounts_become_cents(typed, cents):
    """Dots group thousands, the comma starts the cents, a leading R$ and spaces are ignored."""
    assert parse_money(typed, "price") == cents


@pytest.mark.parametrize(
    "typed, message",
    [
        ("", "Informe o valor."),
        ("   ", "Informe o valor."),
        ("R$", "Informe o valor."),
        ("1.23", "Valor inválido"),  # a dot is never a decimal point here
        ("12.34,5", "Valor inválido"),
        ("1,234", "dois dígitos"),
        ("abc", "Valor inválido"),
        ("NaN", "Valor inválido"),
        ("1e5", "Valor inválido"),
        ("١٢", "Valor inválido"),  # Arabic-Indic digits
        ("1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1", "Valor inválido"),
    ],
)
def test_malformed_amounts_are_refused_on_their_field(typed, message):
    """Every refusal is a ValidationError on the field named, with a hint of the expected form."""
    with pytest.raises(ValidationError) as refused:
        parse_money(typed, "default_price")
    assert list(refused.value.errors) == ["default_price"]
    assert message in refused.value.errors["default_price"]


def test_empty_amount_is_none_when_not_required():
    """An optional amount left blank is None, not zero."""
    assert parse_money("  ", "price", required=False) is None
    assert parse_money(None, "price", required=False) is None


@given(st.integers(-(10**11), 10**11))
def test_format_money_round_trips_through_parse_money(cents):
    """Whatever Sorriso writes as money, typed back, is the same number of cents."""
    assert parse_money(format_money(cents), "amount") == cents


@given(st.integers(0, 10**11))
def test_plain_typing_round_trips(cents):
    """`1234,56` without the thousands dots, as people often type, reads the same."""
    typed = f"{cents // 100},{cents % 100:02d}"
    assert parse_money(typed, "amount") == cents


@pytest.mark.parametrize(
    "cents, words",
    [
        (1, "um centavo"),
        (100, "um real"),
        (123_456, "um mil, duzentos e trinta e quatro reais e cinquenta e seis centavos"),
        (100_000_000, "um milhão de reais"),
        (50, "cinquenta centavos"),
        (101, "um real e um centavo"),
        (100_000, "um mil reais"),
    ],
)
def test_amount_in_words(cents, words):
    """R$ 0,01, 1,00, 1.234,56 and 1.000.000,00 (and a few neighbours) as receipts write them."""
    assert amount_in_words(cents) == words


@pytest.mark.parametrize(
    "typed, cents",
    [("1.234,56", 123_456), ("1234,56", 123_456), ("R$ 1.234,56", 123_456), ("50", 5_000), ("0,5", 50), ("1,05", 105)],
)
def test_parse_money_reads_brazilian_amounts(typed, cents):
    """Points group thousands, the comma starts the cents; R$ and spaces are allowed."""
    assert parse_money(typed, "amount") == cents


@pytest.mark.parametrize(
    "typed, message",
    [
        ("0", "zero"),
        ("-5", "negativo"),
        ("1.234.567.890,00", "alto demais"),
        ("abc", "inválido"),
        ("1,2,3", "inválido"),
        ("1,234", "duas casas"),
        ("", "Informe"),
        ("NaN", "inválido"),
        ("1e5", "inválido"),
    ],
)
def test_money_received_refuses_bad_amounts_on_the_field(typed, message):
    """Every bad amount is a ValidationError on the given field, in Portuguese."""
    with pytest.raises(ValidationError) as caught:
        parse_money(typed, "amount", positive=True)
    assert message in caught.value.errors["amount"]


def test_money_input_round_trips():
    """What a form prefills reads back as the same cents."""
    assert format_money_input(123_456) == "1.234,56"
    assert parse_money(format_money_input(123_456), "amount", positive=True) == 123_456
