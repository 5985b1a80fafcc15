"""Money typed the Brazilian way and written in words on receipts."""

import pytest

from app.services.clock import amount_in_words, format_money_input, parse_money
from app.services.errors import ValidationError


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
def test_parse_money_refuses_bad_amounts_on_the_field(typed, message):
    """Every bad amount is a ValidationError on the given field, in Portuguese."""
    with pytest.raises(ValidationError) as caught:
        parse_money(typed, "amount")
    assert message in caught.value.errors["amount"]


def test_money_input_round_trips():
    """What a form prefills reads back as the same cents."""
    assert format_money_input(123_456) == "1.234,56"
    assert parse_money(format_money_input(123_456), "amount") == 123_456
