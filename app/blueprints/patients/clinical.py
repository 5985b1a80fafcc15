"""Routes of the record's clinical tabs: clinical notes (write, correct) and documents (issue, print).

Dentists (and the administrator, who reads) only: see POLICY. The services hold every rule; these routes parse
the forms, call them and show their errors beside the fields.
"""

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms import FieldList, FormField
from wtforms.fields.choices import SelectChoice

from app.blueprints.patients import bp
from app.blueprints.patients.clinical_forms import (
    MORE_ROWS,
    CertificateForm,
    CorrectionForm,
    ExamRequestForm,
    NoteForm,
    PrescriptionForm,
)
from app.blueprints.patients.routes import _show_tab
from app.edge import positive_int
from app.services import documents, history, notes, patients
from app.services.clock import format_time
from app.services.errors import ConflictError, PermissionDenied, RelatedEntityNotFound, ValidationError
from app.vocabulary import Role


def _fields_by_name(form):
    """Every field of a form by its full name, rows of repeating groups included (`medications-0-name`)."""
    for field in form:
        yield field.name, field
        if isinstance(field, FieldList):
            for entry in field:
                if isinstance(entry, FormField):
                    yield from _fields_by_name(entry)
                else:
                    yield entry.name, entry


def _show_errors(form, errors: dict[str, str]) -> None:
    """A service's field errors beside their fields (rows included); list-wide ones above the form."""
    fields = dict(_fields_by_name(form))
    for name, message in errors.items():
        field = fields.get(name)
        if field is None or isinstance(field, (FieldList, FormField)):
            form.form_errors.append(message)
        else:
            field.errors = [*field.errors, message]


# --- clinical notes -------------------------------------------------------------------------------------------


def _link_choices(form: NoteForm, patient_id: int) -> None:
    """Today's appointments and approved plan items of the patient as the note form's options."""
    choices = notes.link_choices(patient_id)
    form.appointment_id.choices = [SelectChoice("", _("Nenhuma"))] + [
        SelectChoice(str(a.id), _("Consulta das %(time)s", time=format_time(a.starts_at))) for a in choices.appointments
    ]
    form.treatment_item_id.choices = [SelectChoice("", _("Nenhum"))] + [
        SelectChoice(str(item.id), notes.describe_item(item)) for item in choices.items
    ]


def _show_notes(patient_id: int, form=None, correcting=None):
    """The notes tab: newest first, corrections beside what they correct, links and authors loaded in bulk."""
    rows = notes.notes_of_patient(patient_id)
    return _show_tab(
        patient_id,
        "notes",
        "patients/_tab_notes.html",
        notes=rows,
        notes_by_id={note.id: note for note in rows},
        superseded=notes.superseded_by(rows),
        links=notes.link_summaries(note.id for note in rows),
        authors=history.user_names(n.dentist_user_id for n in rows),
        form=form,
        correcting=correcting,
        writes_notes=current_user.role == Role.DENTIST,
    )


@bp.get("/<id:patient_id>/notes", endpoint="notes")
def notes_tab(patient_id: int):
    """The clinical notes tab; a dentist finds the form for a new note above the list."""
    form = None
    if current_user.role == Role.DENTIST and patients.get_patient(patient_id).is_active:
        form = NoteForm(formdata=None)
        _link_choices(form, patient_id)
    return _show_notes(patient_id, form)


@bp.route("/<id:patient_id>/notes/new", methods=["GET", "POST"])
def note_new(patient_id: int):
    """Write a clinical note (a dentist), optionally about today's appointment or an approved plan item."""
    form = NoteForm()
    _link_choices(form, patient_id)
    if form.validate_on_submit():
        try:
            notes.add_note(
                patient_id,
                form.text.data,
                appointment_id=positive_int(form.appointment_id.data),
                treatment_item_id=positive_int(form.treatment_item_id.data),
            )
        except ValidationError as exc:
            _show_errors(form, exc.errors)
        except (ConflictError, RelatedEntityNotFound) as exc:  # a deactivated record, an account that is no dentist
            form.form_errors.append(exc.message)
        else:
            flash(_("Nota clínica registrada."), "success")
            return redirect(url_for("patients.notes", patient_id=patient_id))
    return _show_notes(patient_id, form)


@bp.route("/<id:patient_id>/notes/<id:note_id>/correct", methods=["GET", "POST"])
def note_correct(patient_id: int, note_id: int):
    """Correct a note as a new note referencing it; only its author may (the service refuses anyone else)."""
    original = notes.get_note(patient_id, note_id)
    form = CorrectionForm()
    if request.method == "GET":
        form.text.data = original.text
    if form.validate_on_submit():
        try:
            notes.correct_note(original.id, form.text.data)
        except ValidationError as exc:
            _show_errors(form, exc.errors)
        except PermissionDenied as exc:  # not the author: refused, shown on the form with a 403
            form.form_errors.append(exc.message)
            return _show_notes(patient_id, form, original), 403
        except (ConflictError, RelatedEntityNotFound) as exc:  # already corrected, read-only record, not a dentist
            form.form_errors.append(exc.message)
        else:
            flash(_("Correção registrada; a nota original continua visível."), "success")
            return redirect(url_for("patients.notes", patient_id=patient_id))
    return _show_notes(patient_id, form, original)


# --- documents ------------------------------------------------------------------------------------------------


def _show_documents(patient_id: int, form=None, issuing: str | None = None):
    """The documents tab: newest first, with summaries, authors and every print time loaded in bulk."""
    rows = documents.documents_of_patient(patient_id)
    return _show_tab(
        patient_id,
        "documents",
        "patients/_tab_documents.html",
        documents=rows,
        summaries={d.id: documents.summary_of(d) for d in rows},
        prints=documents.prints_of(d.id for d in rows),
        authors=history.user_names(d.dentist_user_id for d in rows),
        form=form,
        issuing=issuing,
    )


@bp.get("/<id:patient_id>/documents", endpoint="documents")
def documents_tab(patient_id: int):
    """The issued documents tab (prescriptions, certificates, exam requests), newest first."""
    return _show_documents(patient_id)


def _issue(patient_id: int, form, kind: str, issue):
    """Issue a document from a valid form with `issue()`, then open its print page; else the form with errors."""
    if form.validate_on_submit():
        try:
            document = issue()
        except ValidationError as exc:
            _show_errors(form, exc.errors)
        except (ConflictError, RelatedEntityNotFound) as exc:
            form.form_errors.append(exc.message)
        else:  # the print page shows the document itself: no flash left for a later page
            return redirect(url_for("patients.document_print", patient_id=patient_id, document_id=document.id))
    return _show_documents(patient_id, form, kind)


def _more_rows(rows: FieldList) -> bool:
    """Whether the form asked for more blank rows (it is then shown again, nothing issued)."""
    if "more_rows" not in request.form:
        return False
    for _n in range(min(MORE_ROWS, rows.max_entries - len(rows))):
        rows.append_entry()
    return True


@bp.route("/<id:patient_id>/documents/prescription", methods=["GET", "POST"])
def prescription_new(patient_id: int):
    """Issue a prescription: medications with dose and directions (blank rows ignored)."""
    form = PrescriptionForm()
    if request.method == "POST" and _more_rows(form.medications):
        return _show_documents(patient_id, form, "prescription")
    return _issue(
        patient_id,
        form,
        "prescription",
        lambda: documents.issue_prescription(patient_id, [row.data for row in form.medications]),
    )


@bp.route("/<id:patient_id>/documents/certificate", methods=["GET", "POST"])
def certificate_new(patient_id: int):
    """Issue a certificate: date, days of absence or attendance hours, a CID only with the patient's consent."""
    form = CertificateForm()
    return _issue(
        patient_id,
        form,
        "certificate",
        lambda: documents.issue_certificate(
            patient_id,
            form.day.data,
            days=form.days.data,
            start=form.start.data,
            end=form.end.data,
            cid=form.cid.data,
            cid_consent=form.cid_consent.data,
        ),
    )


@bp.route("/<id:patient_id>/documents/exam-request", methods=["GET", "POST"])
def exam_request_new(patient_id: int):
    """Issue an exam request: exams (blank rows ignored) and the clinical indication."""
    form = ExamRequestForm()
    if request.method == "POST" and _more_rows(form.exams):
        return _show_documents(patient_id, form, "exam_request")
    return _issue(
        patient_id,
        form,
        "exam_request",
        lambda: documents.issue_exam_request(patient_id, form.exams.data, form.indication.data),
    )


@bp.get("/<id:patient_id>/documents/<id:document_id>/print")
def document_print(patient_id: int, document_id: int):
    """The printable document as issued; each opening is a print, recorded and audited (a HEAD request is not)."""
    document = documents.get_document(patient_id, document_id)
    if request.method != "HEAD":
        documents.print_document(document.id)
    return render_template(
        "print/document.html",
        document=document,
        content=documents.content_of(document),
        patient=patients.get_patient(patient_id),
        dentist=documents.signer_of(document),
        prints=documents.prints_of([document.id])[document.id],
    )
