"""A dentist's clinical day in a real browser: write a note and correct it, issue a prescription and open its
print page with print media emulated (screenshots saved; copied to $SORRISO_SHOTS_DIR when set)."""

import os
import re
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

from app.db.actor import acting_as
from tests.conftest import build_app, dispose
from tests.factories import PASSWORD, cpf_from, make_patient, make_user
from tests.factories_finance import make_plan, place_appointment, started_slot

pytestmark = pytest.mark.browser


def _seed(db_dir) -> int:
    """A dentist (ana) with a CRO, a patient with today's appointment and an approved plan; the patient's id."""
    app = build_app(db_dir)
    with app.app_context():
        dentist = make_user("dentist", username="ana", full_name="Dra. Ana Souza", cro="SP-12345")
        patient = make_patient(full_name="Carlos Lima", cpf=cpf_from("529982247"))
        with acting_as(dentist.id):
            place_appointment(patient, dentist, started_slot())
            make_plan(patient, dentist, approve=True)
        patient_id = patient.id
    dispose(app)
    return patient_id


def _keep(path: Path) -> None:
    """Copy a screenshot where the developer looks at them, if asked to."""
    folder = os.environ.get("SORRISO_SHOTS_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(folder) / path.name)


def test_dentist_writes_and_corrects_a_note_then_prints_a_prescription(page, live_server, db_dir, shots):
    """Note → correction (both visible) → prescription → print page with the toolbar hidden under print media."""
    base = live_server
    patient_id = _seed(db_dir)
    page.goto(base + "/login")
    page.get_by_label("Usuário").fill("ana")
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Entrar").click()
    expect(page).to_have_url(base + "/")

    page.goto(f"{base}/patients/{patient_id}/notes")
    page.get_by_label("Evolução").fill("Dor ao mastigar no 36. Cárie oclusal.")
    page.get_by_label("Consulta de hoje").select_option(index=1)
    page.get_by_label("Item do plano").select_option(index=1)
    page.get_by_role("button", name="Registrar nota").click()
    expect(page.get_by_text("Nota clínica registrada.")).to_be_visible()
    expect(page.locator(".notes-list")).to_contain_text("Dor ao mastigar no 36. Cárie oclusal.")
    expect(page.locator(".note-links").first).to_contain_text("Consulta de")

    page.get_by_role("link", name="Corrigir").click()
    expect(page.get_by_role("heading", name=re.compile("Corrigir a nota"))).to_be_visible()
    page.get_by_label("Texto corrigido").fill("Dor ao mastigar no 37 (não no 36). Cárie oclusal.")
    page.get_by_role("button", name="Registrar correção").click()
    expect(page.get_by_text("Correção registrada; a nota original continua visível.")).to_be_visible()
    notes = page.locator(".notes-list > li")
    expect(notes).to_have_count(2)
    expect(notes.nth(0)).to_contain_text("Dor ao mastigar no 37")
    expect(notes.nth(1)).to_contain_text("Dor ao mastigar no 36. Cárie oclusal.")
    expect(notes.nth(1).get_by_test_id("corrected-badge")).to_contain_text("Corrigida em")
    expect(page.get_by_role("link", name="Corrigir")).to_have_count(1)
    _keep(shots(page, "notes-tab"))

    page.get_by_role("tab", name="Documentos").click()
    page.get_by_role("button", name="Nova receita").click()
    page.get_by_label("Medicamento 1").fill("Amoxicilina")
    page.get_by_label("Dose 1").fill("500 mg")
    page.get_by_label("Posologia 1").fill("1 cápsula de 8 em 8 horas por 7 dias")
    page.get_by_label("Medicamento 2").fill("Ibuprofeno")
    page.get_by_label("Dose 2").fill("400 mg")
    page.get_by_label("Posologia 2").fill("Se houver dor, de 6 em 6 horas")
    _keep(shots(page, "prescription-form"))
    page.get_by_role("button", name="Emitir receita").click()
    expect(page).to_have_url(re.compile(r"/documents/\d+/print$"))
    expect(page.get_by_role("heading", name="Receituário")).to_be_visible()
    toolbar = page.locator(".print-toolbar")
    expect(toolbar).to_be_visible()
    _keep(shots(page, "print-screen"))

    page.emulate_media(media="print")
    expect(toolbar).to_be_hidden()
    expect(page.get_by_test_id("clinic-header")).to_be_visible()
    expect(page.get_by_test_id("document-patient")).to_contain_text("Carlos Lima")
    expect(page.get_by_test_id("document-patient")).to_contain_text("529.982.247-25")
    expect(page.get_by_test_id("document-content")).to_contain_text("Amoxicilina")
    expect(page.get_by_test_id("signature")).to_contain_text("Dra. Ana Souza")
    expect(page.get_by_test_id("signature")).to_contain_text("CRO SP-12345")
    expect(page.locator("nav").filter(has_text="Pacientes")).to_have_count(0)
    _keep(shots(page, "print-media"))

    page.emulate_media(media="screen")
    page.get_by_role("link", name="Voltar aos documentos").click()
    expect(page.locator(".documents-table")).to_contain_text("Amoxicilina 500 mg; Ibuprofeno 400 mg")
    expect(page.locator(".print-times li")).to_have_count(1)
    _keep(shots(page, "documents-tab"))


def test_certificate_with_consented_code_and_exam_request_print_on_a5(page, live_server, db_dir, shots):
    """A certificate refused without consent, issued with it, and an exam request: both print on A5 with the
    toolbar hidden under print media."""
    base = live_server
    patient_id = _seed(db_dir)
    app = build_app(db_dir)
    with app.app_context():
        from dataclasses import asdict

        from app.services import settings

        settings.update_settings(**{**asdict(settings.current()), "name": "Clínica Sorriso Feliz", "paper_size": "A5"})
    dispose(app)
    page.goto(base + "/login")
    page.get_by_label("Usuário").fill("ana")
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Entrar").click()
    expect(page).to_have_url(base + "/")

    page.goto(f"{base}/patients/{patient_id}/documents/certificate")
    page.get_by_label("Dias de afastamento").fill("2")
    page.get_by_label("CID", exact=True).fill("K08.1")
    page.get_by_role("button", name="Emitir atestado").click()
    expect(page.locator("#cid-help")).to_contain_text("consentimento do paciente")
    _keep(shots(page, "certificate-consent-error"))
    page.get_by_label("O paciente autoriza constar o CID no atestado").check()
    page.get_by_role("button", name="Emitir atestado").click()
    expect(page).to_have_url(re.compile(r"/documents/\d+/print$"))
    page.emulate_media(media="print")
    expect(page.locator(".print-toolbar")).to_be_hidden()
    expect(page.get_by_test_id("document-content")).to_contain_text("2 dia(s) de afastamento")
    expect(page.get_by_test_id("document-content")).to_contain_text("CID: K08.1")
    expect(page.get_by_test_id("clinic-header")).to_contain_text("Clínica Sorriso Feliz")
    _keep(shots(page, "certificate-print-a5"))

    page.emulate_media(media="screen")
    page.goto(f"{base}/patients/{patient_id}/documents/exam-request")
    page.get_by_label("Exame 1").fill("Radiografia panorâmica")
    page.get_by_label("Exame 2").fill("Tomografia computadorizada do 38")
    page.get_by_label("Indicação clínica").fill("Avaliação do siso incluso.")
    page.get_by_role("button", name="Emitir pedido").click()
    expect(page).to_have_url(re.compile(r"/documents/\d+/print$"))
    page.emulate_media(media="print")
    expect(page.get_by_role("heading", name="Pedido de exame")).to_be_visible()
    expect(page.get_by_test_id("document-content")).to_contain_text("Tomografia computadorizada do 38")
    _keep(shots(page, "exam-request-print-a5"))
