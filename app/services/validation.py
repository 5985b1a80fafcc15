"""Small input checks shared by the services: the field name and message travel in a ValidationError."""

from app.services.errors import ValidationError


def required_text(value: str | None, field: str, missing: str, max_length: int) -> str:
    """Trimmed text that must be present and fit its column (PostgreSQL refuses longer strings)."""
    text = (value or "").strip()
    if not text:
        raise ValidationError({field: missing})
    return _fits(text, field, max_length)


def optional_text(value: str | None, field: str, max_length: int) -> str | None:
    """Trimmed text or None, fitting its column."""
    text = (value or "").strip()
    return _fits(text, field, max_length) if text else None


def _fits(text: str, field: str, max_length: int) -> str:
    if len(text) > max_length:
        raise ValidationError({field: f"Texto longo demais (máximo de {max_length} caracteres)."})
    return text
