"""parse_money: amounts typed the Brazilian way (`1.234,56`) into integer cents. Pure functions: no database."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.services.clock import format_money, parse_money
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
