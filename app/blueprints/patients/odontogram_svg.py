"""The odontogram's drawing: where each tooth and each of its five surfaces goes in the SVG (no JS library).

Printed Brazilian odontograms, as the dentist faces the patient: the patient's right is on the chart's left.
Upper arch on top (18→11 | 21→28), lower arch below (48→41 | 31→38); deciduous teeth (55→51 | 61→65,
85→81 | 71→75) sit on the inside rows of a mixed chart. Each tooth is the classic square: a centre (occlusal or
incisal) and four trapezoids: vestibular towards the lips (outside of the arch), lingual/palatal towards the
tongue, mesial towards the midline, distal away from it. Everything here is geometry; what a finding looks like
(pattern, symbol, text code) is `FINDING_STYLES`, drawn by patients/_odontogram.html.
"""

from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.services.dental import DECIDUOUS, MIXED, PERMANENT, SURFACES, is_upper, surface_letter, surface_name
from app.vocabulary import FindingCode

SIZE = 40  # a tooth's square
PITCH = 48  # from one tooth to the next
MIDLINE = 24  # extra room between the two halves of an arch
INSET = 12  # depth of the four side surfaces
MARGIN = 8
NUMBER_BAND, CODE_BAND, ROW_GAP, ARCH_GAP = 16, 16, 6, 14
ROW_HEIGHT = NUMBER_BAND + SIZE + CODE_BAND


@dataclass(frozen=True)
class FindingStyle:
    """How a finding is drawn: a fill for surface findings or a symbol for whole-tooth ones, and a text code."""

    code: str  # two letters printed under the tooth: the cue that never depends on colour
    fill: str | None  # surfaces' fill (an SVG pattern or a solid colour) for surface findings
    symbol: str | None  # overlay drawn over the whole tooth: ring, canal, cross, dash, implant


FINDING_STYLES = {
    FindingCode.CARIES: FindingStyle("CA", "url(#odo-caries)", None),
    FindingCode.RESTORATION: FindingStyle("RE", "url(#odo-restoration)", None),
    FindingCode.SEALANT: FindingStyle("SE", "url(#odo-sealant)", None),
    FindingCode.CROWN: FindingStyle("CO", None, "ring"),
    FindingCode.ROOT_CANAL: FindingStyle("TC", None, "canal"),
    FindingCode.EXTRACTION_INDICATED: FindingStyle("EX", None, "cross"),
    FindingCode.MISSING: FindingStyle("AU", None, "dash"),
    FindingCode.IMPLANT: FindingStyle("IM", None, "implant"),
}

DENTITION_LABELS = {PERMANENT: _l("Permanente"), DECIDUOUS: _l("Decídua"), MIXED: _l("Mista")}


@dataclass(frozen=True)
class Surface:
    """One clickable surface of a drawn tooth."""

    letter: str  # stored letter (MODVL)
    shown: str  # printed letter on this tooth (I for incisal, P for palatal)
    name: str  # `oclusal`, `palatina`, ...
    points: str  # SVG polygon points


@dataclass(frozen=True)
class ToothCell:
    """A tooth's place in the chart."""

    tooth: int
    x: float
    y: float
    upper: bool
    surfaces: tuple[Surface, ...]

    @property
    def number_y(self) -> float:
        """Baseline of the tooth number: above an upper tooth, below a lower one (outside the arch)."""
        return self.y - 4 if self.upper else self.y + SIZE + 13

    @property
    def code_y(self) -> float:
        """Baseline of the finding's text code: on the other side of the number."""
        return self.y + SIZE + 13 if self.upper else self.y - 4

    @property
    def cx(self) -> float:
        """Centre x."""
        return self.x + SIZE / 2

    @property
    def cy(self) -> float:
        """Centre y."""
        return self.y + SIZE / 2


def _points(*pairs: tuple[float, float]) -> str:
    """SVG polygon points from (x, y) pairs."""
    return " ".join(f"{x:g},{y:g}" for x, y in pairs)


def _regions(x: float, y: float) -> dict[str, str]:
    """The five regions of a tooth square by position: top, bottom, left, right and centre."""
    s, i = SIZE, INSET
    return {
        "top": _points((x, y), (x + s, y), (x + s - i, y + i), (x + i, y + i)),
        "bottom": _points((x, y + s), (x + i, y + s - i), (x + s - i, y + s - i), (x + s, y + s)),
        "left": _points((x, y), (x + i, y + i), (x + i, y + s - i), (x, y + s)),
        "right": _points((x + s, y), (x + s, y + s), (x + s - i, y + s - i), (x + s - i, y + i)),
        "centre": _points((x + i, y + i), (x + s - i, y + i), (x + s - i, y + s - i), (x + i, y + s - i)),
    }


def _on_chart_left(tooth: int) -> bool:
    """The patient's right side (quadrants 1, 4, 5, 8) is drawn on the chart's left."""
    return tooth // 10 in (1, 4, 5, 8)


def _position_of(tooth: int, upper: bool) -> dict[str, str]:
    """Which region each stored surface letter occupies on this tooth."""
    towards_midline = "right" if _on_chart_left(tooth) else "left"
    away = "left" if towards_midline == "right" else "right"
    return {
        "M": towards_midline,
        "D": away,
        "O": "centre",
        "V": "top" if upper else "bottom",
        "L": "bottom" if upper else "top",
    }


def _cell_at(tooth: int, x: float, y: float) -> ToothCell:
    """A tooth drawn with its square's corner at (x, y)."""
    upper = is_upper(tooth)
    regions = _regions(x, y)
    where = _position_of(tooth, upper)
    surfaces = tuple(
        Surface(letter, surface_letter(tooth, letter), surface_name(tooth, letter), regions[where[letter]])
        for letter in SURFACES
    )
    return ToothCell(tooth, x, y, upper, surfaces)


def cell(tooth: int, row_y: float, centre_x: float) -> ToothCell:
    """The drawn tooth at its column (counted from the midline at `centre_x`), in the row starting at `row_y`."""
    position = tooth % 10
    if _on_chart_left(tooth):
        x = centre_x - MIDLINE / 2 - position * PITCH + (PITCH - SIZE) / 2
    else:
        x = centre_x + MIDLINE / 2 + (position - 1) * PITCH + (PITCH - SIZE) / 2
    return _cell_at(tooth, x, row_y + (NUMBER_BAND if is_upper(tooth) else CODE_BAND))


# The sample tooth of the legend's swatches (viewBox -4 -4 48 48).
LEGEND_CELL = _cell_at(16, 0, 0)


def _row(quadrants: tuple[int, int], count: int) -> list[int]:
    """One row of teeth, chart-left to chart-right: the first quadrant from the back, the second from the front."""
    left, right = quadrants
    return [left * 10 + n for n in range(count, 0, -1)] + [right * 10 + n for n in range(1, count + 1)]


# Rows of each dentition, top to bottom: (quadrants, teeth per quadrant).
ROWS = {
    PERMANENT: (((1, 2), 8), ((4, 3), 8)),
    DECIDUOUS: (((5, 6), 5), ((8, 7), 5)),
    MIXED: (((1, 2), 8), ((5, 6), 5), ((8, 7), 5), ((4, 3), 8)),
}


@dataclass(frozen=True)
class Layout:
    """Every drawn tooth of a dentition, the SVG's size and where the arches divide."""

    cells: tuple[ToothCell, ...]
    width: float
    height: float
    arch_line_y: float
    centre_x: float


def layout(dentition: str) -> Layout:
    """The chart of a dentition (`permanent`, `deciduous` or `mixed`)."""
    rows = ROWS[dentition]
    width = 2 * (MARGIN + max(count for _quadrants, count in rows) * PITCH) + MIDLINE
    cells, y, arch_line_y = [], MARGIN, 0.0
    for index, (quadrants, count) in enumerate(rows):
        if index == len(rows) // 2:
            arch_line_y = y + ARCH_GAP / 2 - ROW_GAP / 2
            y += ARCH_GAP
        cells += [cell(tooth, y, width / 2) for tooth in _row(quadrants, count)]
        y += ROW_HEIGHT + ROW_GAP
    return Layout(tuple(cells), width, y - ROW_GAP + MARGIN, arch_line_y, width / 2)


LAYOUTS = {dentition: layout(dentition) for dentition in ROWS}


def tooth_label(tooth: int, finding) -> str:
    """What a screen reader says for a tooth: `Dente 36: cárie (oclusal)` or `Dente 36: sem achados`."""
    if finding is None:
        return _("Dente %(tooth)s: sem achados", tooth=tooth)
    text = _("Dente %(tooth)s: %(finding)s", tooth=tooth, finding=FindingCode.label_of(finding.finding))
    if finding.surfaces:
        text += " (" + ", ".join(surface_name(tooth, letter) for letter in finding.surfaces) + ")"
    return text
