"""The appointment confirmation message: the values of its placeholders and the WhatsApp link that carries it.

One place for the agenda grid and the confirmations page, so both send the same words for the same visit.
"""

from app.models.pacientes import Appointment, Patient
from app.services import whatsapp
from app.services.clock import format_date, format_time, to_local
from app.services.settings import Settings


def message_values(appointment: Appointment, patient: Patient, dentist_name: str, settings: Settings) -> dict[str, str]:
    """{paciente}, {data} (dd/mm/aaaa), {hora} (HH:MM), {dentista}, {clinica} of one visit, in clinic time."""
    return {
        "paciente": patient.full_name,
        "data": format_date(to_local(appointment.starts_at).date()),
        "hora": format_time(appointment.starts_at),
        "dentista": dentist_name,
        "clinica": settings.name,
    }


def confirmation_link(appointment: Appointment, patient: Patient, dentist_name: str, settings: Settings) -> str | None:
    """The wa.me link with the clinic's confirmation template filled for this visit; None without a mobile phone."""
    return whatsapp.link(
        patient.phone,
        settings.confirmation_template,
        message_values(appointment, patient, dentist_name, settings),
    )
