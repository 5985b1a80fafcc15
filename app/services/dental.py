"""Dental notation shared by the odontogram and treatment plans: FDI tooth numbers and the five surfaces."""

from datetime import date

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


# Which teeth a chart shows: by age, as a dentist expects to see them (SPEC 6).
PERMANENT, DECIDUOUS, MIXED = "permanent", "deciduous", "mixed"
DENTITIONS = (PERMANENT, DECIDUOUS, MIXED)
DECIDUOUS_UNTIL, MIXED_UNTIL = 6, 12  # ages in whole years


def dentition_for(birth_date: date | None, today: date) -> str:
    """Deciduous before 6 years, mixed from 6 to 11, permanent from 12 (and when the birth date is unknown)."""
    if birth_date is None or birth_date > today:
        return PERMANENT
    age = today.year - birth_date.year - ((today.month, today.day) < (birth_date.month, birth_date.day))
    if age < DECIDUOUS_UNTIL:
        return DECIDUOUS
    return MIXED if age < MIXED_UNTIL else PERMANENT


def is_anterior(tooth: int) -> bool:
    """Incisors and canines (positions 1–3): their chewing surface is incisal, not occlusal."""
    return tooth % 10 <= 3


def is_upper(tooth: int) -> bool:
    """A tooth of the upper arch (quadrants 1, 2, 5 and 6): its lingual surface is called palatal."""
    return tooth // 10 in (1, 2, 5, 6)


def surface_name(tooth: int, letter: str) -> str:
    """A surface's name on this tooth: `O` is incisal on front teeth, `L` palatal on upper teeth."""
    if letter == "O" and is_anterior(tooth):
        return "incisal"
    if letter == "L" and is_upper(tooth):
        return "palatina"
    return SURFACE_LABELS[letter]


def surface_letter(tooth: int, letter: str) -> str:
    """The letter printed on a chart for a stored surface: I for incisal, P for palatal, else the letter."""
    if letter == "O" and is_anterior(tooth):
        return "I"
    if letter == "L" and is_upper(tooth):
        return "P"
    return letter
