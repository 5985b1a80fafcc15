"""Dental notation shared by the odontogram and treatment plans: FDI tooth numbers and the five surfaces."""

from app.services.errors import ValidationError

# FDI two-digit notation: quadrant then position.
PERMANENT_TEETH = tuple(q * 10 + n for q in (1, 2, 3, 4) for n in range(1, 9))
DECIDUOUS_TEETH = tuple(q * 10 + n for q in (5, 6, 7, 8) for n in range(1, 6))
VALID_TEETH = frozenset(PERMANENT_TEETH + DECIDUOUS_TEETH)
SURFACES = "MODVL"  # mesial, occlusal/incisal, distal, vestibular, lingual/palatal
SURFACE_LABELS = {"M": "mesial", "O": "oclusal", "D": "distal", "V": "vestibular", "L": "lingual"}


def parse_tooth(value) -> int:
    """A tooth number in FDI notation (permanent 11–48, deciduous 51–85), or ValidationError."""
    try:
        tooth = int(str(value).strip()) if not isinstance(value, bool) else None
    except ValueError:
        tooth = None
    if tooth not in VALID_TEETH:
        raise ValidationError({"tooth": "Dente inválido: use a numeração FDI (11–48 permanentes, 51–85 decíduos)."})
    return tooth


def parse_surfaces(value: str | None) -> str | None:
    """Surfaces as canonical letters in MODVL order ("lo" → "OL"); None when empty; ValidationError otherwise."""
    letters = "".join((value or "").upper().split())
    if not letters:
        return None
    if any(letter not in SURFACES for letter in letters) or len(set(letters)) != len(letters):
        raise ValidationError({"surfaces": "Faces inválidas: use as letras M, O, D, V e L, sem repetir."})
    return "".join(letter for letter in SURFACES if letter in letters)
