"""The WhatsApp confirmation message of an appointment: the clinic's template filled with the visit's values."""

from app.models.pacientes import Appointment, Patient
from app.services import whatsapp
from app.services.clock import clinic_day, format_date, format_time
from app.services.settings import Settings


def confirmation_link(appointment: Appointment, patient: Patient, dentist_name: str, settings: Settings) -> str | None:
    """The wa.me link with the confirmation template filled in, or None when the patient has no mobile."""
    values = {
        "paciente": patient.full_name,
        "data": format_date(clinic_day(appointment.starts_at)),
        "hora": format_time(appointment.starts_at),
        "dentista": dentist_name,
        "clinica": settings.name,
    }
    return whatsapp.link(patient.phone, settings.confirmation_template, values)
