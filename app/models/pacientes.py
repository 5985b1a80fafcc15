"""Models of the `pacientes` bind (instance/pacientes.db): clinical and financial data.

`pacientes` is Flask-SQLAlchemy's default engine, so these models carry `__bind_key__ = None`.
Columns ending in `_user_id` hold ids from the `users` bind: plain integers, never ForeignKey;
app/services checks them before writing.
"""

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db.types import UTCDateTime, utcnow
from app.extensions import db
from app.models.outbox import OutboxMixin
from app.vocabulary import (
    AnamnesisStatus,
    AppointmentStatus,
    ContactOutcome,
    DocumentKind,
    FindingCode,
    PaymentKind,
    PaymentMethod,
    PlanStatus,
    RecallStatus,
)


class Timestamps:
    """Created / updated timestamps, UTC."""

    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Patient(Timestamps, db.Model):
    """A patient of the clinic."""

    __bind_key__ = None
    __tablename__ = "patient"
    # Lists show active patients by name: this index answers WHERE and ORDER BY without sorting.
    __table_args__ = (Index("ix_patient_is_active_search_name", "is_active", "search_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    full_name: Mapped[str] = mapped_column(String(160))
    # Lower-case, accent-free copy of full_name: what accent-insensitive search compares.
    search_name: Mapped[str] = mapped_column(String(160), index=True)
    cpf: Mapped[str | None] = mapped_column(String(11), unique=True)
    birth_date: Mapped[date | None] = mapped_column(Date)
    sex: Mapped[str | None] = mapped_column(String(1))
    phone: Mapped[str | None] = mapped_column(String(20))  # E.164: +5511987654321
    phone_digits: Mapped[str | None] = mapped_column(String(20), index=True)  # with area code: 11987654321
    email: Mapped[str | None] = mapped_column(String(254))
    cep: Mapped[str | None] = mapped_column(String(8))
    street: Mapped[str | None] = mapped_column(String(160))
    number: Mapped[str | None] = mapped_column(String(20))
    complement: Mapped[str | None] = mapped_column(String(80))
    district: Mapped[str | None] = mapped_column(String(80))
    city: Mapped[str | None] = mapped_column(String(80))
    state: Mapped[str | None] = mapped_column(String(2))
    notes: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(default=True, index=True)
    deactivation_reason: Mapped[str | None] = mapped_column(String(500))
    created_by_user_id: Mapped[int | None] = mapped_column(Integer, index=True)

    anamnesis: Mapped["Anamnesis | None"] = relationship(back_populates="patient", uselist=False)

    @property
    def owner_patient_id(self) -> int:
        """The patient this row belongs to, for audit and timeline (itself)."""
        return self.id

    search_tokens: Mapped[list["PatientSearchToken"]] = relationship(cascade="all, delete-orphan")


class PatientSearchToken(db.Model):
    """A word a patient can be found by: each word of the accent-free name, the CPF, the phone's digits with +55,
    with the area code and without it. Prefix search looks these up through an index.

    Derived from the patient's row by app/services/patients.py, so it is not audited on its own.
    """

    __bind_key__ = None
    __tablename__ = "patient_search_token"
    __audited__ = False
    __table_args__ = (Index("ix_patient_search_token_token_patient_id", "token", "patient_id"),)

    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), primary_key=True)
    token: Mapped[str] = mapped_column(String(60), primary_key=True)


class Anamnesis(db.Model):
    """The medical history of one patient."""

    __bind_key__ = None
    __tablename__ = "anamnesis"
    __table_args__ = (CheckConstraint(AnamnesisStatus.sql_in("status"), name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), unique=True)
    allergies: Mapped[str | None] = mapped_column(Text)
    medications: Mapped[str | None] = mapped_column(Text)
    conditions: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default=AnamnesisStatus.PENDING, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow, index=True)
    updated_by_user_id: Mapped[int | None] = mapped_column(Integer, index=True)

    patient: Mapped[Patient] = relationship(back_populates="anamnesis")


class Appointment(Timestamps, db.Model):
    """A booked slot of a dentist's agenda."""

    __bind_key__ = None
    __tablename__ = "appointment"
    __table_args__ = (
        CheckConstraint(AppointmentStatus.sql_in("status"), name="status"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        Index("ix_appointment_dentist_user_id_starts_at", "dentist_user_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    dentist_user_id: Mapped[int] = mapped_column(Integer, index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(10), default=AppointmentStatus.SCHEDULED, index=True)
    notes: Mapped[str | None] = mapped_column(Text)
    cancellation_reason: Mapped[str | None] = mapped_column(String(500))
    created_by_user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    arrived_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # when the patient reached the waiting room

    patient: Mapped[Patient] = relationship()


class Procedure(db.Model):
    """An entry of the clinic's procedure catalogue."""

    __bind_key__ = None
    __tablename__ = "procedure"
    __table_args__ = (CheckConstraint("default_price_cents >= 0", name="price"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(160), index=True)
    default_price_cents: Mapped[int] = mapped_column(Integer)
    is_active: Mapped[bool] = mapped_column(default=True, index=True)
    # The odontogram finding a done item of this procedure records on its tooth (FindingCode, checked by the
    # service: no CHECK, so a finding added to the vocabulary needs no table rebuild here).
    finding: Mapped[str | None] = mapped_column(String(25))


class TreatmentPlan(Timestamps, db.Model):
    """A proposed, approved or completed set of treatment items for one patient."""

    __bind_key__ = None
    __tablename__ = "treatment_plan"
    __table_args__ = (
        CheckConstraint(PlanStatus.sql_in("status"), name="status"),
        CheckConstraint(f"status != '{PlanStatus.CANCELLED}' OR cancellation_reason IS NOT NULL", name="cancelled"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    dentist_user_id: Mapped[int] = mapped_column(Integer, index=True)
    title: Mapped[str | None] = mapped_column(String(160))
    status: Mapped[str] = mapped_column(String(10), default=PlanStatus.PROPOSED, index=True)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    approved_by_user_id: Mapped[int | None] = mapped_column(Integer)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancellation_reason: Mapped[str | None] = mapped_column(String(500))

    items: Mapped[list["TreatmentItem"]] = relationship(back_populates="plan", order_by="TreatmentItem.id")


class TreatmentItem(db.Model):
    """One procedure of a plan, with the name and price frozen when it was added."""

    __bind_key__ = None
    __tablename__ = "treatment_item"
    __table_args__ = (
        CheckConstraint("price_cents >= 0", name="price"),
        CheckConstraint("tooth IS NULL OR (tooth BETWEEN 11 AND 48) OR (tooth BETWEEN 51 AND 85)", name="tooth"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("treatment_plan.id"), index=True)
    procedure_id: Mapped[int] = mapped_column(ForeignKey("procedure.id"), index=True)
    name: Mapped[str] = mapped_column(String(160))
    price_cents: Mapped[int] = mapped_column(Integer)
    tooth: Mapped[int | None] = mapped_column(Integer)
    surfaces: Mapped[str | None] = mapped_column(String(5))
    done: Mapped[bool] = mapped_column(default=False)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    done_by_user_id: Mapped[int | None] = mapped_column(Integer)

    plan: Mapped[TreatmentPlan] = relationship(back_populates="items")

    @property
    def owner_patient_id(self) -> int:
        """The patient this row belongs to, for audit and timeline: its plan's."""
        return self.plan.patient_id


class Installment(db.Model):
    """An expected instalment of an approved plan; its paid state is computed, never stored."""

    __bind_key__ = None
    __tablename__ = "installment"
    __table_args__ = (CheckConstraint("amount_cents > 0", name="amount"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("treatment_plan.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    due_date: Mapped[date] = mapped_column(Date, index=True)
    amount_cents: Mapped[int] = mapped_column(Integer)

    plan: Mapped[TreatmentPlan] = relationship()

    @property
    def owner_patient_id(self) -> int:
        """The patient this row belongs to, for audit and timeline: its plan's."""
        return self.plan.patient_id


class Payment(db.Model):
    """Money received, an adjustment with its reason, or the refund of one earlier payment."""

    __bind_key__ = None
    __tablename__ = "payment"
    __table_args__ = (
        CheckConstraint(PaymentKind.sql_in("kind"), name="kind"),
        CheckConstraint(PaymentMethod.sql_in("method"), name="method"),
        CheckConstraint(f"kind != '{PaymentKind.ADJUSTMENT}' OR reason IS NOT NULL", name="adjustment_reason"),
        CheckConstraint(f"kind != '{PaymentKind.REFUND}' OR refund_of_id IS NOT NULL", name="refund_target"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("treatment_plan.id"), index=True)
    # Signed cents: payments are positive, refunds negative, adjustments either way.
    amount_cents: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(10))
    kind: Mapped[str] = mapped_column(String(10), default=PaymentKind.PAYMENT, index=True)
    reason: Mapped[str | None] = mapped_column(String(500))
    paid_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    clinic_day: Mapped[date] = mapped_column(Date, index=True)
    received_by_user_id: Mapped[int] = mapped_column(Integer, index=True)
    refund_of_id: Mapped[int | None] = mapped_column(ForeignKey("payment.id"), unique=True)

    plan: Mapped[TreatmentPlan] = relationship()

    @property
    def owner_patient_id(self) -> int:
        """The patient this row belongs to, for audit and timeline: its plan's."""
        return self.plan.patient_id


class CashClosing(db.Model):
    """The closing of one clinic day; a closed day accepts no new payment or refund."""

    __bind_key__ = None
    __tablename__ = "cash_closing"

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_day: Mapped[date] = mapped_column(Date, unique=True)
    totals_json: Mapped[str] = mapped_column(Text)
    total_cents: Mapped[int] = mapped_column(Integer)
    closed_by_user_id: Mapped[int] = mapped_column(Integer, index=True)
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Receipt(db.Model):
    """The receipt of one payment, numbered from its own sequence (never reused), issued with the payment.

    The payer and what was paid for are frozen when it is issued, so a reprint shows the original receipt even
    after the patient's registration changes.
    """

    __bind_key__ = None
    __tablename__ = "receipt"
    __table_args__ = {"sqlite_autoincrement": True}  # numbers only grow: SQLite's AUTOINCREMENT never reuses one

    number: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payment.id"), unique=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    issued_by_user_id: Mapped[int] = mapped_column(Integer, index=True)
    payer_name: Mapped[str] = mapped_column(String(160))
    payer_cpf: Mapped[str | None] = mapped_column(String(11))
    description: Mapped[str] = mapped_column(String(500))

    payment: Mapped[Payment] = relationship()

    @property
    def owner_patient_id(self) -> int:
        """The patient this row belongs to, for audit and timeline: its payment's plan's."""
        return self.payment.plan.patient_id


class ClinicalNote(db.Model):
    """An append-only clinical note; a correction is a new note pointing at the old one."""

    __bind_key__ = None
    __tablename__ = "clinical_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    dentist_user_id: Mapped[int] = mapped_column(Integer, index=True)
    text: Mapped[str] = mapped_column(Text)
    corrects_note_id: Mapped[int | None] = mapped_column(ForeignKey("clinical_note.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class ClinicalNoteLink(db.Model):
    """What a clinical note is about: one of the day's appointments and/or an item of an approved plan.

    A row of its own because clinical_note is append-only in the database (triggers): adding columns there
    would mean rebuilding the table. Written with its note in one unit of work, and append-only as well.
    """

    __bind_key__ = None
    __tablename__ = "clinical_note_link"
    __table_args__ = (
        CheckConstraint("appointment_id IS NOT NULL OR treatment_item_id IS NOT NULL", name="links_something"),
    )

    note_id: Mapped[int] = mapped_column(ForeignKey("clinical_note.id"), primary_key=True)
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointment.id"), index=True)
    treatment_item_id: Mapped[int | None] = mapped_column(ForeignKey("treatment_item.id"), index=True)

    note: Mapped[ClinicalNote] = relationship()
    appointment: Mapped["Appointment | None"] = relationship()
    treatment_item: Mapped["TreatmentItem | None"] = relationship()

    @property
    def owner_patient_id(self) -> int:
        """The patient this row belongs to, for audit and timeline: its note's."""
        return self.note.patient_id


class IssuedDocument(db.Model):
    """A prescription, certificate or exam request exactly as issued; reprints show this content."""

    __bind_key__ = None
    __tablename__ = "issued_document"
    __table_args__ = (CheckConstraint(DocumentKind.sql_in("kind"), name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    dentist_user_id: Mapped[int] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(15))
    content: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class DocumentPrint(db.Model):
    """One print (or reprint) of an issued document: when and by whom. Append-only, like the document."""

    __bind_key__ = None
    __tablename__ = "document_print"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("issued_document.id"), index=True)
    printed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    by_user_id: Mapped[int | None] = mapped_column(Integer, index=True)

    document: Mapped[IssuedDocument] = relationship()

    @property
    def owner_patient_id(self) -> int:
        """The patient this row belongs to, for audit and timeline: its document's."""
        return self.document.patient_id


class ToothFinding(db.Model):
    """One odontogram finding; the current chart is the latest finding per tooth."""

    __bind_key__ = None
    __tablename__ = "tooth_finding"
    __table_args__ = (
        CheckConstraint("(tooth BETWEEN 11 AND 48) OR (tooth BETWEEN 51 AND 85)", name="tooth"),
        CheckConstraint(FindingCode.sql_in("finding"), name="finding"),
        Index("ix_tooth_finding_patient_id_tooth_recorded_at", "patient_id", "tooth", "recorded_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    tooth: Mapped[int] = mapped_column(Integer)
    surfaces: Mapped[str | None] = mapped_column(String(5))
    finding: Mapped[str] = mapped_column(String(25))
    notes: Mapped[str | None] = mapped_column(String(500))
    recorded_by_user_id: Mapped[int] = mapped_column(Integer, index=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Recall(db.Model):
    """A patient due for a call-back (check-up, cleaning, follow-up)."""

    __bind_key__ = None
    __tablename__ = "recall"
    __table_args__ = (CheckConstraint(RecallStatus.sql_in("status"), name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    due_date: Mapped[date] = mapped_column(Date, index=True)
    reason: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10), default=RecallStatus.OPEN, index=True)
    created_by_user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    attempts: Mapped[list["RecallAttempt"]] = relationship(
        back_populates="recall", order_by="RecallAttempt.attempted_at"
    )


class RecallAttempt(db.Model):
    """One contact attempt for a recall and its outcome."""

    __bind_key__ = None
    __tablename__ = "recall_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    recall_id: Mapped[int] = mapped_column(ForeignKey("recall.id"), index=True)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    outcome: Mapped[str] = mapped_column(String(20))
    notes: Mapped[str | None] = mapped_column(String(500))
    by_user_id: Mapped[int] = mapped_column(Integer, index=True)

    recall: Mapped[Recall] = relationship(back_populates="attempts")

    @property
    def owner_patient_id(self) -> int:
        """The patient this row belongs to, for audit and timeline: its recall's."""
        return self.recall.patient_id


class ClinicSettings(db.Model):
    """The clinic's one settings record (id 1): header of printed pages, opening hours, message templates, PIX.

    No row means the defaults of app/services/settings.py; the admin page writes the row the first time.
    """

    __bind_key__ = None
    __tablename__ = "clinic_settings"
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint("slot_minutes IN (15, 20, 30)", name="slot_minutes"),
        CheckConstraint("paper_size IN ('A4', 'A5')", name="paper_size"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(160))
    cnpj: Mapped[str | None] = mapped_column(String(14))
    address: Mapped[str | None] = mapped_column(String(300))
    phone: Mapped[str | None] = mapped_column(String(20))  # E.164
    state: Mapped[str] = mapped_column(String(2))
    # {"0": ["08:00", "18:00"], ..., "6": null}: Monday = "0"; null = closed that weekday.
    opening_hours: Mapped[str] = mapped_column(Text)
    slot_minutes: Mapped[int] = mapped_column(Integer)
    paper_size: Mapped[str] = mapped_column(String(2))
    confirmation_template: Mapped[str] = mapped_column(Text)
    recall_template: Mapped[str] = mapped_column(Text)
    pix_key: Mapped[str | None] = mapped_column(String(77))
    merchant_name: Mapped[str | None] = mapped_column(String(25))
    merchant_city: Mapped[str | None] = mapped_column(String(15))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    updated_by_user_id: Mapped[int | None] = mapped_column(Integer)


class AppointmentContact(db.Model):
    """A contact about an appointment: its WhatsApp confirmation was opened, or the patient did not confirm."""

    __bind_key__ = None
    __tablename__ = "appointment_contact"
    __table_args__ = (CheckConstraint(ContactOutcome.sql_in("outcome"), name="outcome"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointment.id"), index=True)
    channel: Mapped[str] = mapped_column(String(10), default="whatsapp")
    outcome: Mapped[str] = mapped_column(
        String(20), default=ContactOutcome.MESSAGE_SENT, server_default=ContactOutcome.MESSAGE_SENT.value
    )
    contacted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    by_user_id: Mapped[int] = mapped_column(Integer, index=True)

    appointment: Mapped[Appointment] = relationship()

    @property
    def owner_patient_id(self) -> int:
        """The patient this row belongs to, for audit and timeline: its appointment's."""
        return self.appointment.patient_id


class PacientesOutbox(OutboxMixin, db.Model):
    """Audit and timeline events of pacientes.db, committed with the change they describe."""

    __bind_key__ = None
