"""Input checks shared by the services: the field name and message travel in a ValidationError.

Every service that stores text passes it through `clean_text` (directly or through `required_text` /
`optional_text`): the one place that refuses control characters. Numbers people type with punctuation
(CPF, CNPJ, CEP, phone, CRO) and e-mail addresses are parsed here too, and anything that does not parse is an
error, never an empty value. Check digits are python-stdnum's and phone numbering plans are phonenumbers';
how long a stored text may be is read from its model's column (`column_limit`), never typed again.
"""

import functools
import re
import unicodedata

import phonenumbers
from stdnum.br import cnpj as stdnum_cnpj
from stdnum.br import cpf as stdnum_cpf

from app.services.errors import ValidationError

CONTROL_MESSAGE = "Contém caracteres de controle não permitidos."
UFS = frozenset("AC AL AP AM BA CE DF ES GO MA MT MS MG PA PB PR PE PI RJ RN RS RO RR SC SP SE TO".split())

# Unicode categories never stored: controls (NUL, ESC, DEL, C1), format characters (bidi embeddings,
# overrides, isolates and marks, zero-width spaces, BOM), lone surrogates, line and paragraph separators.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
# What multi-line text keeps of those: line feed, tab, and the zero-width (non-)joiners that emoji
# sequences and some scripts are spelt with. Bidi overrides and isolates stay refused everywhere.
_MULTILINE_KEEPS = frozenset("\n\t\u200c\u200d")
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _refused(char: str, multiline: bool) -> bool:
    """Whether one character may not be stored in single-line (or multi-line) text."""
    if multiline and char in _MULTILINE_KEEPS:
        return False
    return unicodedata.category(char) in _REFUSED_CATEGORIES


def refuse_control_chars(value: str, field: str, *, multiline: bool = False) -> str:
    """`value` unchanged (multi-line: CR LF, CR and U+2028/9 become LF), or ValidationError on `field`.

    Single-line text refuses every control and format character, tab and line breaks included; multi-line
    text (notes, reasons, anamnesis, documents) keeps LF, tab and zero-width joiners. Bidi overrides and
    isolates (U+202A–U+202E, U+2066–U+2069) are refused in every field: they make a name or a note read
    differently from what is stored. PostgreSQL itself refuses NUL, so this also keeps every row movable there.
    """
    if multiline:
        value = re.sub(r"\r\n?|[\u2028\u2029]", "\n", value)
    if value.isprintable():  # fast path: no control, format or separator character other than the space
        return value
    if any(_refused(char, multiline) for char in value):
        raise ValidationError({field: CONTROL_MESSAGE})
    return value


def clean_text(value, field: str, *, multiline: bool = False, max_length: int | None = None) -> str | None:
    """The one check for stored text: controls refused (see refuse_control_chars), trimmed, None when empty."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError({field: "Informe um texto."})
    text = refuse_control_chars(value, field, multiline=multiline).strip()
    if max_length is not None and len(text) > max_length:
        raise ValidationError({field: f"Texto longo demais (máximo de {max_length} caracteres)."})
    return text or None


def required_text(value, field: str, missing: str, max_length: int, *, multiline: bool = False) -> str:
    """Checked, trimmed text that must be present and fit its column (PostgreSQL refuses longer strings)."""
    text = clean_text(value, field, multiline=multiline, max_length=max_length)
    if text is None:
        raise ValidationError({field: missing})
    return text


def optional_text(value, field: str, max_length: int, *, multiline: bool = False) -> str | None:
    """Checked, trimmed text or None, fitting its column."""
    return clean_text(value, field, multiline=multiline, max_length=max_length)


def column_limit(model, field: str) -> int | None:
    """How many characters `model.field` holds (its String length; None for Text, dates and numbers)."""
    return getattr(model.__table__.c[field].type, "length", None)


def fit_column(value, model, field: str):
    """`value` unchanged, or ValidationError on `field` when it is text longer than its column holds.

    PostgreSQL refuses longer strings (SQLite would store them), so the limit is checked before writing.
    """
    limit = column_limit(model, field)
    if isinstance(value, str) and limit is not None and len(value) > limit:
        raise ValidationError({field: f"Máximo de {limit} caracteres."})
    return value


def _typed_number(value, field: str, allowed: str, wrong_characters: str) -> tuple[str, str] | None:
    """(text as typed, its ASCII digits) when `value` holds only digits and `allowed` punctuation; None if empty."""
    text = clean_text(value, field)
    if text is None:
        return None
    if not re.fullmatch(f"[0-9{re.escape(allowed)}]+", text):
        raise ValidationError({field: wrong_characters})
    return text, re.sub(r"[^0-9]", "", text)


def cpf_is_valid(cpf: str) -> bool:
    """Whether 11 ASCII digits are a CPF: python-stdnum's check digits, and not one digit repeated.

    A repeated digit (111.111.111-11) passes the check-digit arithmetic, but the Receita Federal never issues one.
    """
    return len(cpf) == 11 and cpf.isascii() and cpf != cpf[0] * 11 and stdnum_cpf.is_valid(cpf)


def parse_cpf(value, field: str = "cpf") -> str | None:
    """A CPF typed with or without dots, dash and spaces → its 11 digits; empty → None; anything else refused."""
    typed = _typed_number(value, field, ".- ", "CPF inválido: use apenas números, pontos e hífen.")
    if typed is None:
        return None
    if not cpf_is_valid(typed[1]):
        raise ValidationError({field: "CPF inválido: confira os 11 dígitos."})
    return typed[1]


def format_cpf(cpf: str | None) -> str:
    """000.000.000-00 from eleven digits; anything else as stored."""
    if not cpf or len(cpf) != 11:
        return cpf or ""
    return stdnum_cpf.format(cpf)


def parse_cnpj(value, field: str = "cnpj") -> str | None:
    """A CNPJ typed `11.222.333/0001-81` (or in the alphanumeric form of July 2026) → its 14 characters,
    upper-cased; empty → None; anything else refused."""
    text = clean_text(value, field)
    if text is None:
        return None
    if not re.fullmatch(r"[0-9A-Za-z./\- ]+", text):
        raise ValidationError({field: "CNPJ inválido: use apenas números, letras, pontos, barra e hífen."})
    number = stdnum_cnpj.compact(text)
    if not stdnum_cnpj.is_valid(number):
        raise ValidationError({field: "CNPJ inválido: confira os 14 caracteres."})
    return number


def format_cnpj(cnpj: str | None) -> str:
    """00.000.000/0000-00 from a stored CNPJ; anything else as stored."""
    if not cnpj or len(cnpj) != 14:
        return cnpj or ""
    return stdnum_cnpj.format(cnpj)


def parse_cep(value, field: str = "cep") -> str | None:
    """A CEP typed as 00000-000 (dots and spaces accepted) → its 8 digits; empty → None; anything else refused."""
    typed = _typed_number(value, field, ".- ", "CEP inválido: use apenas números e hífen.")
    if typed is None:
        return None
    if len(typed[1]) != 8:
        raise ValidationError({field: "CEP deve ter 8 dígitos."})
    return typed[1]


BRAZIL = 55
BRAZIL_PREFIX = "+55"  # country codes are prefix-free: an E.164 number starting +55 is Brazilian
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


def parse_phone(value, field: str = "phone") -> str | None:
    """A phone typed the usual ways — `(11) 98765-4321`, `11987654321`, `+55 11 98765-4321`, `(21) 3333-2222`,
    `011 98765-4321` — → E.164 (`+5511987654321`); empty → None; an impossible number is refused.

    Parsing and validity are phonenumbers' (region BR, so a number without + is Brazilian). A Brazilian number
    needs its area code (DDD), as the clinic calls from anywhere; another country's needs its + and code.
    """
    typed = _typed_number(
        value, field, " ()+.-", "Telefone inválido: use apenas números, espaços, parênteses, + e hífen."
    )
    if typed is None:
        return None
    try:
        number = phonenumbers.parse(typed[0], "BR")
    except phonenumbers.NumberParseException:
        number = None
    national = phonenumbers.national_significant_number(number) if number else ""
    if number is None or (number.country_code == BRAZIL and len(national) < 10):
        raise ValidationError({field: "Telefone inválido: informe DDD e número."})
    if not phonenumbers.is_valid_number(number):
        raise ValidationError({field: "Telefone inválido: confira o DDD e o número."})
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def stored_phone(phone: str | None) -> phonenumbers.PhoneNumber | None:
    """A phone stored in E.164, parsed; None for none, or for one kept as typed before phones were parsed.

    Parsed once per distinct phone and process (pages list many appointments; the result is never modified)."""
    if not phone or not _E164.fullmatch(phone):
        return None
    return _parse_e164(phone)


@functools.lru_cache(maxsize=4096)
def _parse_e164(phone: str) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(phone)
    except phonenumbers.NumberParseException:
        return None


def format_phone(phone: str | None) -> str:
    """A stored phone for people: `(11) 98765-4321` for Brazil, `+1 650-253-0000` for another country;
    a phone kept as typed before phones were parsed, as stored."""
    number = stored_phone(phone)
    if number is None:
        return phone or ""
    style = phonenumbers.PhoneNumberFormat
    return phonenumbers.format_number(number, style.NATIONAL if number.country_code == BRAZIL else style.INTERNATIONAL)


def phone_national_digits(phone: str | None) -> str | None:
    """The digits dialled inside the phone's country, area code included: `+5511987654321` → `11987654321`;
    a phone kept as typed before phones were parsed → its digits."""
    if phone and phone.startswith(BRAZIL_PREFIX) and _E164.fullmatch(phone):
        return phone[len(BRAZIL_PREFIX) :]  # no parsing: the demo seeder writes 100,000 of these
    number = stored_phone(phone)
    if number is not None:
        return phonenumbers.national_significant_number(number)
    return re.sub(r"[^0-9]", "", phone or "") or None


def phone_digit_forms(phone: str | None) -> set[str]:
    """The digit strings a stored phone is typed as, so a search by any prefix finds it.

    E.164: with the country code, with the area code, and (Brazil) without either — `+5511987654321` →
    {5511987654321, 11987654321, 987654321}. A phone kept as typed: its digits, and without the first two.
    """
    national = phone_national_digits(phone)
    if not national:
        return set()
    if not _E164.fullmatch(phone):
        return {national, national[2:]} if len(national) >= 10 else {national}
    forms = {phone[1:], national}
    if phone.startswith(BRAZIL_PREFIX) and len(national) >= 10:
        forms.add(national[2:])
    return forms


def parse_email(value, field: str = "email") -> str | None:
    """Something that looks like an e-mail address (one @, a dot after it, no spaces), trimmed; empty → None."""
    text = clean_text(value, field)
    if text and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", text):
        raise ValidationError({field: "E-mail inválido."})
    return text


_CRO_NUMBER = r"[0-9]{1,3}(?:\.[0-9]{3})+|[0-9]+"
_CRO = re.compile(
    rf"(?:CRO\s*[-/:]?\s*)?"
    rf"(?:(?P<uf>[A-Z]{{2}})\s*[-/:]?\s*(?P<number>{_CRO_NUMBER})"
    rf"|(?P<number_first>{_CRO_NUMBER})\s*[-/]?\s*(?P<uf_last>[A-Z]{{2}}))"
)


def parse_cro(value, field: str = "cro") -> str | None:
    """A CRO typed `CRO-SP 12345`, `SP-12345`, `12345/SP` or `CRO/SP 12.345` → `SP-12345`; empty → None."""
    text = clean_text(value, field)
    if text is None:
        return None
    match = _CRO.fullmatch(text.upper())
    number = re.sub(r"\D", "", (match["number"] or match["number_first"])) if match else ""
    if not 1 <= len(number) <= 6:
        raise ValidationError({field: "CRO inválido: informe a UF e o número (até 6 dígitos), como SP-12345."})
    uf = match["uf"] or match["uf_last"]
    if uf not in UFS:
        raise ValidationError({field: f"CRO inválido: {uf} não é uma UF."})
    return f"{uf}-{number}"


def parse_uf(value, field: str = "state") -> str | None:
    """A Brazilian state's two letters, upper-cased; empty → None; anything else refused."""
    text = clean_text(value, field)
    if text is None:
        return None
    if text.upper() not in UFS:
        raise ValidationError({field: "UF inválida."})
    return text.upper()
