"""Input checks shared by the services: the field name and message travel in a ValidationError.

Every service that stores text passes it through `clean_text` (directly or through `required_text` /
`optional_text`): the one place that refuses control characters. Numbers people type with punctuation
(CPF, CEP, phone, CRO) are parsed here too, and anything that does not parse is an error, never an empty value.
"""

import re
import unicodedata

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


def _typed_number(value, field: str, allowed: str, wrong_characters: str) -> tuple[str, str] | None:
    """(text as typed, its ASCII digits) when `value` holds only digits and `allowed` punctuation; None if empty."""
    text = clean_text(value, field)
    if text is None:
        return None
    if not re.fullmatch(f"[0-9{re.escape(allowed)}]+", text):
        raise ValidationError({field: wrong_characters})
    return text, re.sub(r"[^0-9]", "", text)


def cpf_is_valid(cpf: str) -> bool:
    """Check a CPF's two verification digits (11 ASCII digits, not all equal)."""
    if len(cpf) != 11 or not cpf.isascii() or not cpf.isdigit() or cpf == cpf[0] * 11:
        return False
    for size in (9, 10):
        total = sum(int(d) * w for d, w in zip(cpf[:size], range(size + 1, 1, -1), strict=True))
        if (total * 10) % 11 % 10 != int(cpf[size]):
            return False
    return True


def parse_cpf(value, field: str = "cpf") -> str | None:
    """A CPF typed with or without dots, dash and spaces → its 11 digits; empty → None; anything else refused."""
    typed = _typed_number(value, field, ".- ", "CPF inválido: use apenas números, pontos e hífen.")
    if typed is None:
        return None
    if not cpf_is_valid(typed[1]):
        raise ValidationError({field: "CPF inválido: confira os 11 dígitos."})
    return typed[1]


def parse_cep(value, field: str = "cep") -> str | None:
    """A CEP typed as 00000-000 (dots and spaces accepted) → its 8 digits; empty → None; anything else refused."""
    typed = _typed_number(value, field, ".- ", "CEP inválido: use apenas números e hífen.")
    if typed is None:
        return None
    if len(typed[1]) != 8:
        raise ValidationError({field: "CEP deve ter 8 dígitos."})
    return typed[1]


def parse_phone(value, field: str = "phone") -> str | None:
    """A phone with area code (10 to 13 digits; spaces, parentheses, +, dot and dash accepted), kept as typed."""
    typed = _typed_number(
        value, field, " ()+.-", "Telefone inválido: use apenas números, espaços, parênteses, + e hífen."
    )
    if typed is None:
        return None
    if not 10 <= len(typed[1]) <= 13:
        raise ValidationError({field: "Telefone inválido: informe DDD e número."})
    return typed[0]


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
