"""Documents through the web: dentists issue prescriptions, certificates and exam requests; the print page shows
the document as issued under the clinic's header, and every print or reprint is recorded and audited."""

import dataclasses
import html
import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.db.actor import acting_as
from app.extensions import db
from app.models.pacientes import DocumentPrint, IssuedDocument
from app.services import documents, settings
from app.services.clock import clinic_day
from tests.factories import cpf_from, make_patient, make_user
from tests.support import audit_events, count_queries, login_as, post_form

CPF = cpf_from("529982247")
EVIL = '<script>alert("x")</script> & Ácido'


def _text(response) -> str:
    return response.get_data(as_text=True)


def _count(model) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def dentist(client):
    """A client logged in as a dentist with a CRO; the dentist's account."""
    return login_as(client, "dentist", full_name="Dra. Ana Souza", cro="SP-12345")


@pytest.fixture
def patient(app):
    return make_patient(full_name="Carlos Lima", cpf=CPF)


def _prescription(dentist_id: int, patient_id: int, *names: str):
    with acting_as(dentist_id):
        return documents.issue_prescription(
            patient_id, [{"name": name, "dose": "500 mg", "directions": "8/8 h"} for name in names or ("Amoxicilina",)]
        )


def _rows(prefix: str, rows: list[dict]) -> dict:
    """Form data for a repeating group: `medications-0-name` ..."""
    return {f"{prefix}-{i}-{key}": value for i, row in enumerate(rows) for key, value in row.items()}


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/patients/{p}/documents"),
        ("GET", "/patients/{p}/documents/prescription"),
        ("POST", "/patients/{p}/documents/prescription"),
        ("GET", "/patients/{p}/documents/certificate"),
        ("POST", "/patients/{p}/documents/certificate"),
        ("GET", "/patients/{p}/documents/exam-request"),
        ("POST", "/patients/{p}/documents/exam-request"),
        ("GET", "/patients/{p}/documents/{d}/print"),
    ],
)
def test_receptionist_is_refused_every_documents_route(client, patient, method, path):
    """The front desk gets 403 on listing, issuing and printing; nothing is issued or printed."""
    document = _prescription(make_user("dentist").id, patient.id)
    login_as(client, "receptionist")
    url = path.format(p=patient.id, d=document.id)
    if method == "GET":
        response = client.get(url)
    else:
        response = post_form(client, url, {**_rows("medications", [{"name": "Dipirona"}]), "exams-0": "RX"})
    assert response.status_code == 403
    assert "Amoxicilina" not in _text(response)
    assert (_count(IssuedDocument), _count(DocumentPrint)) == (1, 0)


def test_prescription_with_several_rows_ignores_blank_ones_and_opens_the_print_page(client, dentist, patient):
    """Two filled rows among five are issued in order; the browser goes to the print page."""
    rows = [
        {"name": "Amoxicilina", "dose": "500 mg", "directions": "1 cápsula de 8/8 h por 7 dias"},
        {"name": "", "dose": "", "directions": ""},
        {"name": "Ibuprofeno", "dose": "400 mg", "directions": "Se dor, de 6/6 h"},
        {"name": "", "dose": "", "directions": ""},
        {"name": "", "dose": "", "directions": ""},
    ]
    response = post_form(client, f"/patients/{patient.id}/documents/prescription", _rows("medications", rows))
    assert response.status_code == 302 and response.location.endswith("/print")
    document = db.session.scalars(select(IssuedDocument)).one()
    stored = json.loads(document.content)
    assert [m["name"] for m in stored["medications"]] == ["Amoxicilina", "Ibuprofeno"]
    page = html.unescape(_text(client.get(response.location)))
    assert page.index("Amoxicilina") < page.index("Ibuprofeno") and "1 cápsula de 8/8 h por 7 dias" in page


def test_prescription_row_without_a_name_and_an_empty_prescription_are_form_errors(client, dentist, patient):
    """A dose without a medication is flagged on its row; no medication at all is flagged on the form."""
    response = post_form(
        client, f"/patients/{patient.id}/documents/prescription", _rows("medications", [{"dose": "500 mg"}])
    )
    assert response.status_code == 200 and "Informe o medicamento desta linha." in _text(response)
    response = post_form(client, f"/patients/{patient.id}/documents/prescription", {})
    assert "Informe ao menos um medicamento." in _text(response)
    assert _count(IssuedDocument) == 0


def test_more_rows_adds_blank_rows_without_issuing(client, dentist, patient):
    """'Mais linhas' shows the form again with three more rows, keeping what was typed."""
    data = {**_rows("medications", [{"name": "Dipirona"}]), "more_rows": "1"}
    page = _text(post_form(client, f"/patients/{patient.id}/documents/prescription", data))
    assert 'name="medications-7-name"' in page and 'value="Dipirona"' in page
    assert _count(IssuedDocument) == 0


def test_prescription_with_accents_and_html_is_escaped_on_the_print_page(client, dentist, patient):
    """What the dentist typed is shown as text on the print page, never as markup."""
    response = post_form(
        client,
        f"/patients/{patient.id}/documents/prescription",
        _rows("medications", [{"name": EVIL, "dose": "1 g <b>", "directions": "Após as refeições & à noite"}]),
    )
    page = _text(client.get(response.location))
    assert "<script>" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Ácido" in page
    assert "Após as refeições &amp; à noite" in page


def test_print_page_has_header_patient_dentist_content_signature_and_no_navigation(client, dentist, patient):
    """Clinic header from the settings, patient and CPF, date, content, dentist's name and CRO above a signature
    line; nothing of the app's navigation."""
    settings.update_settings(
        **{**dataclasses.asdict(settings.current()), "name": "Clínica Sorriso Feliz", "paper_size": "A5"}
    )
    document = _prescription(dentist.id, patient.id, "Nimesulida")
    page = html.unescape(_text(client.get(f"/patients/{patient.id}/documents/{document.id}/print")))
    header = re.search(r'<header class="clinic-header".*?</header>', page, re.S).group(0)
    assert "Clínica Sorriso Feliz" in header
    assert "Carlos Lima" in page and "529.982.247-25" in page
    assert "Nimesulida" in page and "Receituário" in page
    signature = re.search(r'<p class="signature-line".*?</p>', page, re.S).group(0)
    assert "Dra. Ana Souza" in signature and "CRO SP-12345" in signature
    assert "paper-a5" in page and "page-a5.css" in page
    for navigation in ('class="app-header"', "Pacientes</a>", "Sair", 'role="tablist"', "/admin/"):
        assert navigation not in page


def test_each_print_is_recorded_audited_and_listed(client, dentist, patient):
    """Opening the print page twice records two prints and two audit events; the reprint says it is one; the list
    shows both printed times."""
    document = _prescription(dentist.id, patient.id)
    first = _text(client.get(f"/patients/{patient.id}/documents/{document.id}/print"))
    assert "Reimpressão" not in first
    again = html.unescape(_text(client.get(f"/patients/{patient.id}/documents/{document.id}/print")))
    assert "Reimpressão (2ª via)" in again and "Amoxicilina" in again
    assert _count(DocumentPrint) == 2
    events = audit_events(action="print_document", table_name="issued_document")
    assert [(e.row_id, e.actor_user_id) for e in events] == [(document.id, dentist.id)] * 2
    listing = _text(client.get(f"/patients/{patient.id}/documents"))
    row = re.search(rf'<tr id="document-{document.id}">.*?</tr>', listing, re.S).group(0)
    assert len(re.findall(r"<time datetime=", row)) == 2 and "Reimprimir" in row


def test_head_request_of_the_print_page_records_no_print(client, dentist, patient):
    """A HEAD request is not a print."""
    document = _prescription(dentist.id, patient.id)
    assert client.head(f"/patients/{patient.id}/documents/{document.id}/print").status_code == 200
    assert _count(DocumentPrint) == 0


def test_document_of_another_patient_is_not_found_under_this_record(client, dentist, patient):
    """A document id under the wrong patient's path is a 404 and no print is recorded."""
    document = _prescription(dentist.id, make_patient().id)
    assert client.get(f"/patients/{patient.id}/documents/{document.id}/print").status_code == 404
    assert _count(DocumentPrint) == 0


def _certificate(client, patient_id: int, **fields):
    data = {"day": clinic_day().isoformat(), "days": "", "start": "", "end": "", "cid": "", **fields}
    return post_form(client, f"/patients/{patient_id}/documents/certificate", data)


def test_certificate_code_without_consent_is_refused(client, dentist, patient):
    """A CID code without the patient's consent is a form error and nothing is issued."""
    response = _certificate(client, patient.id, days="2", cid="K08.1")
    assert response.status_code == 200
    assert "consentimento do paciente" in _text(response)
    assert _count(IssuedDocument) == 0


def test_certificate_with_consent_prints_the_code_and_records_the_consent(client, dentist, patient):
    """With the consent box checked the code is printed, and the consent is stored with it."""
    response = _certificate(client, patient.id, days="2", cid="k081", cid_consent="y")
    assert response.status_code == 302
    stored = json.loads(db.session.scalars(select(IssuedDocument)).one().content)
    assert (stored["cid"], stored["cid_consent"], stored["days"]) == ("K08.1", True, 2)
    page = html.unescape(_text(client.get(response.location)))
    assert "CID: K08.1" in page and "2 dia(s) de afastamento" in page and "Atestado" in page


def test_certificate_for_attendance_hours_prints_no_code(client, dentist, patient):
    """A certificate of attendance from 14:00 to 15:30 without a code prints the hours and no CID line."""
    response = _certificate(client, patient.id, start="14:00", end="15:30")
    assert response.status_code == 302
    page = _text(client.get(response.location))
    assert "das 14:00 às 15:30" in page and "CID" not in page


@pytest.mark.parametrize(
    "fields, message",
    [
        ({}, "Informe os dias de afastamento ou o horário de comparecimento."),
        ({"days": "2", "start": "14:00", "end": "15:00"}, "não os dois"),
        ({"start": "15:00", "end": "14:00"}, "depois do início"),
        ({"days": "0"}, "Informe de 1 a 365 dias."),
        ({"days": "2", "cid": "XYZ", "cid_consent": "y"}, "Código CID inválido"),
        ({"days": "2", "day": "tomorrow"}, "não pode estar no futuro"),
    ],
)
def test_certificate_period_and_code_errors(client, dentist, patient, fields, message):
    """Period missing, both kinds at once, inverted hours, zero days, a bad code, a future date: form errors."""
    if fields.get("day") == "tomorrow":
        fields = {**fields, "day": (clinic_day() + timedelta(days=1)).isoformat()}
    response = _certificate(client, patient.id, **fields)
    assert response.status_code == 200
    assert message in html.unescape(_text(response))
    assert _count(IssuedDocument) == 0


def test_exam_request_is_issued_and_printed(client, dentist, patient):
    """Exams (blank rows ignored) and the indication are issued as a 'pedido de exame' and printed."""
    data = {"exams-0": "Radiografia panorâmica", "exams-1": "", "exams-2": "Tomografia do 38", "indication": "Siso"}
    response = post_form(client, f"/patients/{patient.id}/documents/exam-request", data)
    assert response.status_code == 302
    document = db.session.scalars(select(IssuedDocument)).one()
    assert document.kind == "exam_request"
    page = html.unescape(_text(client.get(response.location)))
    assert "Pedido de exame" in page and "Radiografia panorâmica" in page and "Tomografia do 38" in page
    listing = html.unescape(_text(client.get(f"/patients/{patient.id}/documents")))
    assert "Pedido de exame #" in listing and "Radiografia panorâmica; Tomografia do 38" in listing


def test_administrator_cannot_issue_a_document(client, patient):
    """Issuing is a dentist's act: the administrator sees the service's refusal on the form."""
    login_as(client, "admin")
    response = post_form(
        client, f"/patients/{patient.id}/documents/prescription", _rows("medications", [{"name": "Dipirona"}])
    )
    assert response.status_code == 200 and "papel de dentista" in _text(response)
    assert _count(IssuedDocument) == 0


def _documents_tab_queries(client, patient_id: int) -> int:
    with count_queries() as statements:
        response = client.get(f"/patients/{patient_id}/documents")
    assert response.status_code == 200
    return len(statements)


def test_documents_tab_query_count_does_not_grow_with_documents(client, dentist, patient):
    """5 and 50 documents (of every kind, printed, by two dentists) cost the same number of SQL statements."""
    other = make_user("dentist")

    def grow(until: int):
        while (n := len(documents.documents_of_patient(patient.id))) < until:
            author = dentist if n % 2 else other
            with acting_as(author.id):
                if n % 3 == 0:
                    document = documents.issue_certificate(patient.id, clinic_day(), days=n + 1)
                elif n % 3 == 1:
                    document = documents.issue_exam_request(patient.id, [f"Exame {n}"])
                else:
                    document = documents.issue_prescription(patient.id, [{"name": f"Remédio {n}"}])
                documents.print_document(document.id)

    grow(5)
    _documents_tab_queries(client, patient.id)  # the first opening of the record is audited: not what is measured
    few = _documents_tab_queries(client, patient.id)
    grow(50)
    assert _documents_tab_queries(client, patient.id) == few
