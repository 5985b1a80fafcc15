"""The odontogram tab through the web: the drawn chart, a tooth's panel, recording findings, planning from the chart,
the chart as it was on a past day, and the query count of the tab."""

import html
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from app.db import PACIENTES
from app.db.actor import acting_as
from app.db.unit_of_work import unit_of_work
from app.extensions import db
from app.models.pacientes import ToothFinding, TreatmentItem, TreatmentPlan
from app.services import odontogram, plans, procedures
from app.services.clock import clinic_day
from tests.factories import make_patient, make_user
from tests.support import HTMX, count_queries, login, login_as, post_form

PANEL = {**HTMX, "HX-Target": "chart-panel"}


def _text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def patient(app):
    """An adult patient (permanent dentition)."""
    return make_patient(birth_date="1980-05-17")


@pytest.fixture
def dentist_client(client):
    """A client logged in as a dentist; the dentist is `client.user`."""
    client.user = login_as(client, "dentist", full_name="Dra. Beatriz Lima")
    return client


def record(patient_id: int, dentist_id: int, tooth: int, finding: str, surfaces: str | None = None):
    """A finding recorded by a dentist through the service."""
    with acting_as(dentist_id):
        return odontogram.record_finding(patient_id, tooth, finding, surfaces=surfaces)


def finding_at(patient_id: int, tooth: int, finding: str, recorded_at: datetime, dentist_id: int) -> ToothFinding:
    """A finding with an explicit recording time (inserted directly, for history tests)."""
    with unit_of_work(PACIENTES):
        row = ToothFinding(
            patient_id=patient_id, tooth=tooth, finding=finding, recorded_at=recorded_at, recorded_by_user_id=dentist_id
        )
        db.session.add(row)
    return row


def tooth_group(page: str, tooth: int) -> str:
    """The SVG group of one drawn tooth."""
    match = re.search(rf'<g class="tooth[^"]*"[^>]*data-tooth="{tooth}".*?</g>', page, re.S)
    assert match, f"tooth {tooth} is not drawn"
    return re.sub(r"\s+", " ", match.group(0))


def surface_fill(group: str, letter: str) -> str:
    """The fill of one surface polygon of a drawn tooth."""
    match = re.search(rf'data-surface="{letter}"\s+fill="([^"]+)"', group)
    assert match, f"no surface {letter}"
    return match.group(1)


def chart_finding(client, patient_id: int, **fields):
    """Post the panel's finding form (prefixed fields) as HTMX does."""
    data = {f"finding-{name}": value for name, value in fields.items()}
    return post_form(client, f"/patients/{patient_id}/chart/findings", data, headers=PANEL)


def chart_item(client, patient_id: int, **fields):
    """Post the panel's plan-item form (prefixed fields) as HTMX does."""
    data = {f"item-{name}": value for name, value in fields.items()}
    return post_form(client, f"/patients/{patient_id}/chart/items", data, headers=PANEL)


# --- the drawn chart --------------------------------------------------------------------------------------------


def test_permanent_chart_is_laid_out_as_printed_odontograms(dentist_client, patient):
    """Upper 18→11 | 21→28, lower 48→41 | 31→38; every tooth focusable with a label; the tab is listed."""
    page = _text(dentist_client.get(f"/patients/{patient.id}/chart"))
    assert 'data-tab="chart"' in page and "Odontograma" in page
    drawn = [int(n) for n in re.findall(r'data-tooth="(\d+)"', page)]
    assert drawn == [*range(18, 10, -1), *range(21, 29), *range(48, 40, -1), *range(31, 39)]
    group = tooth_group(page, 36)
    assert 'tabindex="0"' in group and 'role="button"' in group and 'aria-label="Dente 36: sem achados"' in group
    assert len(re.findall(r"data-surface=", group)) == 5


@pytest.mark.parametrize(
    "age, expected, first",
    [(3, "deciduous", 55), (5, "deciduous", 55), (6, "mixed", 18), (11, "mixed", 18), (12, "permanent", 18)]
    + [(40, "permanent", 18), (None, "permanent", 18)],
)
def test_dentition_follows_age_and_can_be_switched(dentist_client, age, expected, first):
    """Deciduous under 6, mixed to 11, permanent from 12 or without a birth date; ?dentition= switches."""
    birth = None if age is None else date(clinic_day().year - age, 1, 1).isoformat()  # `age` years old today
    patient = make_patient(birth_date=birth)
    page = _text(dentist_client.get(f"/patients/{patient.id}/chart"))
    assert f'data-dentition="{expected}"' in page
    assert int(re.search(r'data-tooth="(\d+)"', page).group(1)) == first
    if expected == "mixed":
        assert 'data-tooth="55"' in page and 'data-tooth="85"' in page
    other = _text(dentist_client.get(f"/patients/{patient.id}/chart?dentition=deciduous"))
    drawn = [int(n) for n in re.findall(r'data-tooth="(\d+)"', other)]
    assert drawn == [*range(55, 50, -1), *range(61, 66), *range(85, 80, -1), *range(71, 76)]


@pytest.mark.parametrize(
    "finding, surfaces, code, cue",
    [
        ("caries", "O", "CA", 'data-surface="O" fill="url(#odo-caries)"'),
        ("restoration", "MO", "RE", 'data-surface="M" fill="url(#odo-restoration)"'),
        ("sealant", "O", "SE", 'data-surface="O" fill="url(#odo-sealant)"'),
        ("crown", None, "CO", "sym-ring"),
        ("root_canal", None, "TC", "sym-canal"),
        ("extraction_indicated", None, "EX", "sym-cross"),
        ("missing", None, "AU", "sym-dash"),
        ("implant", None, "IM", "sym-implant"),
    ],
)
def test_findings_render_with_their_pattern_and_text_code(dentist_client, patient, finding, surfaces, code, cue):
    """Each finding has a pattern or symbol and a printed code (never colour alone), and a spoken label."""
    record(patient.id, dentist_client.user.id, 36, finding, surfaces)
    page = _text(dentist_client.get(f"/patients/{patient.id}/chart"))
    group = tooth_group(page, 36)
    assert cue in group
    assert f'data-code="{code}">{code}</text>' in group
    assert f"finding-{finding}" in group
    assert "finding-code" not in tooth_group(page, 37)  # untouched teeth carry no code
    assert f'<span class="finding-code-badge">{code}</span>' in page  # the legend explains the code


def test_caries_label_names_the_surface(dentist_client, patient):
    """`Dente 36: cárie (oclusal)`; only the charted surface is hatched; incisal/palatal names on front teeth."""
    record(patient.id, dentist_client.user.id, 36, "caries", "O")
    record(patient.id, dentist_client.user.id, 11, "caries", "OL")
    page = html.unescape(_text(dentist_client.get(f"/patients/{patient.id}/chart")))
    group = tooth_group(page, 36)
    assert 'aria-label="Dente 36: cárie (oclusal)"' in group
    assert surface_fill(group, "O") == "url(#odo-caries)" and surface_fill(group, "M") == "#ffffff"
    assert 'aria-label="Dente 11: cárie (incisal, palatina)"' in tooth_group(page, 11)


# --- the panel and its forms ------------------------------------------------------------------------------------


def test_tooth_panel_preselects_the_clicked_surface(dentist_client, patient):
    """Clicking a surface opens the panel with that surface ticked in both forms."""
    procedures.create_procedure("REST", "Restauração", 15000)
    page = _text(dentist_client.get(f"/patients/{patient.id}/chart/teeth/36?surface=O", headers=PANEL))
    assert "Dente 36" in page
    assert re.search(r'name="finding-surfaces" value="O" checked', page)
    assert re.search(r'name="item-surfaces" value="O" checked', page)
    assert not re.search(r'name="finding-surfaces" value="M" checked', page)
    assert "Restauração (REST)" in page


@pytest.mark.parametrize("tooth", [19, 10, 49, 50, 86, 99, 1234])
def test_tooth_panel_for_a_number_that_is_no_tooth_is_a_404(dentist_client, patient, tooth):
    """A tooth outside FDI in the URL names nothing."""
    assert dentist_client.get(f"/patients/{patient.id}/chart/teeth/{tooth}").status_code == 404


def test_recording_a_finding_updates_panel_and_chart(dentist_client, patient):
    """A posted finding is stored; the answer is the panel with the history and the chart out of band."""
    response = chart_finding(dentist_client, patient.id, tooth="36", finding="caries", surfaces="O", notes="Profunda")
    assert response.status_code == 200
    page = html.unescape(_text(response))
    assert "Achado registrado: dente 36: cárie (faces O)." in page
    assert '<div id="odontogram" hx-swap-oob="true">' in page
    assert surface_fill(tooth_group(page, 36), "O") == "url(#odo-caries)"
    assert "Dra. Beatriz Lima" in page and "Profunda" in page
    rows = odontogram.finding_history(patient.id, 36)
    assert [(r.finding, r.surfaces, r.recorded_by_user_id) for r in rows] == [("caries", "O", dentist_client.user.id)]


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"tooth": "19", "finding": "caries", "surfaces": "O"}, "Dente inválido"),
        ({"tooth": "36", "finding": "caries", "surfaces": "X"}, "Faces inválidas"),
        ({"tooth": "36", "finding": "fracture"}, "Achado inválido"),
        ({"tooth": "36", "finding": "missing", "surfaces": "O"}, "vale para o dente inteiro"),
    ],
)
def test_bad_finding_is_a_form_error(dentist_client, patient, fields, message):
    """Tooth 19, surface X, an unknown finding: errors shown in the panel (200), nothing stored."""
    response = chart_finding(dentist_client, patient.id, **fields)
    assert response.status_code == 200
    assert message in html.unescape(_text(response))
    assert "hx-swap-oob" not in _text(response)
    assert odontogram.current_chart(patient.id) == {}


def test_receptionist_reads_the_chart_but_cannot_chart(client, patient):
    """The front desk sees the chart and the history, without forms; posting a finding or an item is a 403."""
    dentist = make_user("dentist")
    record(patient.id, dentist.id, 36, "caries", "O")
    login_as(client, "receptionist")
    page = _text(client.get(f"/patients/{patient.id}/chart"))
    assert 'data-code="CA"' in tooth_group(page, 36)
    panel = _text(client.get(f"/patients/{patient.id}/chart/teeth/36", headers=PANEL))
    assert 'data-testid="tooth-history"' in panel and "finding-form" not in panel and "item-form" not in panel
    assert chart_finding(client, patient.id, tooth="36", finding="caries", surfaces="M").status_code == 403
    assert chart_item(client, patient.id, tooth="36", procedure_id="1").status_code == 403
    assert len(odontogram.finding_history(patient.id)) == 1


def test_administrator_who_is_no_dentist_gets_a_form_error(client, patient):
    """Findings are recorded by dentists: an administrator's attempt is refused in the form, not a 500."""
    login_as(client, "admin")
    response = chart_finding(client, patient.id, tooth="36", finding="caries", surfaces="O")
    assert response.status_code == 200 and "não tem o papel de dentista" in html.unescape(_text(response))
    assert odontogram.current_chart(patient.id) == {}


def _plans(patient_id: int) -> list[TreatmentPlan]:
    db.session.rollback()
    return list(db.session.scalars(select(TreatmentPlan).where(TreatmentPlan.patient_id == patient_id)))


def test_add_item_from_the_chart_creates_a_proposed_plan_then_reuses_it(dentist_client, patient):
    """The first item opens a proposed plan of this dentist; the next goes to the same plan, price frozen."""
    restoration = procedures.create_procedure("REST", "Restauração", 15000)
    canal = procedures.create_procedure("ENDO", "Tratamento de canal", 60000)
    response = chart_item(dentist_client, patient.id, tooth="36", procedure_id=str(restoration.id), surfaces="O")
    assert response.status_code == 200
    page = html.unescape(_text(response))
    assert "Incluído no plano proposto" in page
    assert 'class="plan-mark"' in tooth_group(page, 36)  # the chart, swapped out of band, shows the plan
    planned = re.search(r'data-testid="tooth-planned">(.*?)</ul>', page, re.S).group(1)
    assert "Restauração (O)" in planned and "150,00" in planned and "proposto" in planned
    chart_item(dentist_client, patient.id, tooth="46", procedure_id=str(canal.id))
    chart = html.unescape(_text(dentist_client.get(f"/patients/{patient.id}/chart")))
    assert 'aria-label="Dente 36: sem achados; procedimento planejado"' in tooth_group(chart, 36)
    assert 'class="plan-mark"' in tooth_group(chart, 46) and 'data-code="P"' in tooth_group(chart, 46)
    assert "plan-mark" not in tooth_group(chart, 37)
    (plan,) = _plans(patient.id)
    assert (plan.status, plan.dentist_user_id) == ("proposed", dentist_client.user.id)
    items = db.session.scalars(select(TreatmentItem).where(TreatmentItem.plan_id == plan.id).order_by(TreatmentItem.id))
    assert [(i.name, i.tooth, i.surfaces, i.price_cents) for i in items] == [
        ("Restauração", 36, "O", 15000),
        ("Tratamento de canal", 46, None, 60000),
    ]


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"tooth": "19", "surfaces": "O"}, "Dente inválido"),
        ({"tooth": "36", "surfaces": "X"}, "Faces inválidas"),
        ({"tooth": "36", "procedure_id": ""}, "Procedimento"),
    ],
)
def test_bad_item_from_the_chart_is_a_form_error_and_opens_no_plan(dentist_client, patient, fields, message):
    """A bad tooth, surface or procedure leaves no empty plan behind."""
    restoration = procedures.create_procedure("REST", "Restauração", 15000)
    fields = {"procedure_id": str(restoration.id), **fields}
    response = chart_item(dentist_client, patient.id, **fields)
    assert response.status_code == 200 and message in html.unescape(_text(response))
    assert _plans(patient.id) == []


def test_a_deactivated_record_shows_no_forms_and_refuses_findings(dentist_client, patient):
    """A deactivated patient's chart is read-only: no forms in the panel; a forged post is a form error."""
    from app.services import patients

    patients.deactivate_patient(patient.id, "Mudou de cidade")
    panel = _text(dentist_client.get(f"/patients/{patient.id}/chart/teeth/36", headers=PANEL))
    assert "finding-form" not in panel and "item-form" not in panel
    response = chart_finding(dentist_client, patient.id, tooth="36", finding="caries", surfaces="O")
    assert response.status_code == 200 and "somente leitura" in html.unescape(_text(response))
    assert odontogram.current_chart(patient.id) == {}


# --- history ----------------------------------------------------------------------------------------------------


def test_chart_as_of_a_past_day(dentist_client, patient):
    """?on= shows each tooth's latest finding up to the end of that clinic day, read-only."""
    dentist_id = dentist_client.user.id
    today = clinic_day()
    day = today - timedelta(days=10)
    noon = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=15)  # 12:00 in São Paulo
    finding_at(patient.id, 36, "caries", noon - timedelta(days=5), dentist_id)
    finding_at(patient.id, 36, "restoration", noon + timedelta(days=3), dentist_id)
    finding_at(patient.id, 21, "missing", noon + timedelta(days=1), dentist_id)
    past = _text(dentist_client.get(f"/patients/{patient.id}/chart?on={day.isoformat()}"))
    assert 'data-code="CA"' in tooth_group(past, 36) and "finding-code" not in tooth_group(past, 21)
    assert "somente leitura" in past and f'value="{day.isoformat()}"' in past
    now = _text(dentist_client.get(f"/patients/{patient.id}/chart"))
    assert 'data-code="RE"' in tooth_group(now, 36) and 'data-code="AU"' in tooth_group(now, 21)
    panel = _text(dentist_client.get(f"/patients/{patient.id}/chart/teeth/36?on={day.isoformat()}", headers=PANEL))
    assert "finding-form" not in panel and "dia passado" in panel


def test_tooth_history_lists_every_finding_with_who_and_when(dentist_client, patient):
    """Newest first, with the dentist's name and the time, one tooth only."""
    other = make_user("dentist", full_name="Dr. Carlos Souza")
    base = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)
    finding_at(patient.id, 36, "caries", base, other.id)
    finding_at(patient.id, 36, "restoration", base + timedelta(days=7), dentist_client.user.id)
    finding_at(patient.id, 37, "sealant", base, other.id)
    panel = html.unescape(_text(dentist_client.get(f"/patients/{patient.id}/chart/teeth/36", headers=PANEL)))
    history = re.search(r'data-testid="tooth-history">(.*?)</ol>', panel, re.S).group(1)
    entries = re.findall(r"<li>(.*?)</li>", history, re.S)
    assert len(entries) == 2
    assert "17/03/2026 às 11:00" in entries[0] and "Dra. Beatriz Lima" in entries[0] and "restauração" in entries[0]
    assert "10/03/2026 às 11:00" in entries[1] and "Dr. Carlos Souza" in entries[1] and "cárie" in entries[1]
    assert "selante" not in history


def test_opening_a_tooth_panel_is_an_audited_read(app, client, patient):
    """The panel reads the record: it goes through patients.open_record like the tabs."""
    from tests.support import audit_events

    dentist = make_user("dentist")
    login(client, dentist.username)
    assert client.head(f"/patients/{patient.id}/chart/teeth/36").status_code == 200
    assert audit_events(action="view_record") == []  # headers only: nothing read out
    client.get(f"/patients/{patient.id}/chart/teeth/36", headers=PANEL)
    assert [e.row_id for e in audit_events(action="view_record")] == [patient.id]


# --- performance ------------------------------------------------------------------------------------------------


def _chart_queries(client, patient_id: int) -> int:
    with count_queries() as statements:
        response = client.get(f"/patients/{patient_id}/chart")
    assert response.status_code == 200
    return len(statements)


def test_query_count_is_constant_in_the_number_of_teeth_with_findings(dentist_client):
    """5 or 30 teeth with findings (several each): the same number of SQL statements."""
    few, many = make_patient(), make_patient()
    dentist_id = dentist_client.user.id
    base = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    teeth = [t for t in odontogram.PERMANENT_TEETH]
    procedure = procedures.create_procedure("REST", "Restauração", 15000)
    for patient, count in ((few, 5), (many, 30)):
        for n, tooth in enumerate(teeth[:count]):
            finding_at(patient.id, tooth, "caries", base + timedelta(minutes=n), dentist_id)
            finding_at(patient.id, tooth, "restoration", base + timedelta(days=1, minutes=n), dentist_id)
            plans.add_item_to_proposed_plan(patient.id, dentist_id, procedure.id, tooth, "O")
    _chart_queries(dentist_client, few.id)  # the first opening of each record writes its audit event
    _chart_queries(dentist_client, many.id)
    assert _chart_queries(dentist_client, few.id) == _chart_queries(dentist_client, many.id)
    page = _text(dentist_client.get(f"/patients/{many.id}/chart"))
    assert page.count('data-code="RE P"') == 30


def test_date_picker_ignores_garbage_and_future(dentist_client, patient):
    """A bad or future ?on= shows the current chart (no error)."""
    record(patient.id, dentist_client.user.id, 36, "caries", "O")
    for value in ("garbage", "2026-02-30", (date.today() + timedelta(days=30)).isoformat()):
        page = _text(dentist_client.get(f"/patients/{patient.id}/chart?on={value}"))
        assert 'data-code="CA"' in tooth_group(page, 36) and "somente leitura" not in page
