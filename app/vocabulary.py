"""The domain's closed sets of values, one StrEnum each, with their Portuguese labels.

Every place that needs one of these sets derives it from here: the models' CHECK constraints (`sql_in`),
the services' checks (`values` and the members), form choices (`vocabulary_choices` in
app/blueprints/helpers.py) and the words pages and messages show (`label`, `capitalised_label`, the `label` filter).
Stored values are lower-case words; the sex codes keep their usual capital letters, like UFs and surfaces.

A label is the word as it reads inside a sentence (lower case, wrapped for translation); `capitalised_label`
and the templates' `|capitalize` start a line with it. `label_of` matches a value in any case, so values written
before migration 0006 lower-cased the plan, payment and anamnesis sets (audit rows keep them) still read well.
"""

from enum import StrEnum
from typing import Self

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l


def _capitalised(text) -> str:
    """`text` with its first letter upper-cased (the rest left alone)."""
    text = str(text)
    return text[:1].upper() + text[1:]


class Vocabulary(StrEnum):
    """A closed set of stored values; each member is `NAME = "value", _l("label")`."""

    def __new__(cls, value: str, label: LazyString):
        """A member equal to `value` (a plain lower-case string in the database) carrying its label."""
        member = str.__new__(cls, value)
        member._value_ = value
        member._label = label
        return member

    @property
    def label(self) -> LazyString:
        """The Portuguese word for this value, translated when rendered."""
        return self._label

    @property
    def capitalised_label(self) -> LazyString:
        """The label capitalised, for the start of a line (select options); not `title`, which str already has."""
        return LazyString(_capitalised, self._label)

    @classmethod
    def values(cls) -> tuple[str, ...]:
        """Every stored value, in declaration order."""
        return tuple(member.value for member in cls)

    @classmethod
    def lookup(cls, value) -> Self | None:
        """The member whose value is `value` in any case (old upper-case values included), or None."""
        if not isinstance(value, str):
            return None
        return next((member for member in cls if member.value.lower() == value.lower()), None)

    @classmethod
    def label_of(cls, value) -> str:
        """The label of a stored value; an unknown value is shown as it is, None as an empty string."""
        member = cls.lookup(value)
        if member is not None:
            return str(member.label)
        return "" if value is None else str(value)

    @classmethod
    def sql_in(cls, column: str) -> str:
        """SQL for a CHECK that `column` holds one of the values: `status IN ('a', 'b')`."""
        quoted = ", ".join(f"'{value}'" for value in cls.values())
        return f"{column} IN ({quoted})"


class Role(Vocabulary):
    """What a staff account may do (app/security.py holds the policy)."""

    ADMIN = "admin", _l("administrador")
    DENTIST = "dentist", _l("dentista")
    RECEPTIONIST = "receptionist", _l("recepcionista")


class AppointmentStatus(Vocabulary):
    """Where an appointment stands (app/services/agenda.py holds the transitions)."""

    SCHEDULED = "scheduled", _l("agendada")
    CONFIRMED = "confirmed", _l("confirmada")
    ARRIVED = "arrived", _l("aguardando atendimento")  # the patient is in the waiting room (arrived_at says since when)
    ATTENDED = "attended", _l("atendida")
    MISSED = "missed", _l("falta")
    CANCELLED = "cancelled", _l("cancelada")


class ContactOutcome(Vocabulary):
    """What came of one contact about an appointment (tomorrow's confirmations)."""

    MESSAGE_SENT = "message_sent", _l("mensagem enviada")
    NOT_CONFIRMED = "not_confirmed", _l("não confirmou")


class PlanStatus(Vocabulary):
    """A treatment plan's stage: proposed → approved → completed, or a proposed plan cancelled with a reason."""

    PROPOSED = "proposed", _l("proposto")
    APPROVED = "approved", _l("aprovado")
    COMPLETED = "completed", _l("concluído")
    CANCELLED = "cancelled", _l("cancelado")


class AnamnesisStatus(Vocabulary):
    """Whether the anamnesis was reviewed with the patient."""

    PENDING = "pending", _l("pendente")
    COMPLETE = "complete", _l("completa")


class PaymentKind(Vocabulary):
    """What a payment row is: money received, an adjustment with its reason, or a refund."""

    PAYMENT = "payment", _l("pagamento")
    ADJUSTMENT = "adjustment", _l("ajuste")
    REFUND = "refund", _l("estorno")


class PaymentMethod(Vocabulary):
    """How money was received."""

    CASH = "cash", _l("dinheiro")
    DEBIT = "debit", _l("cartão de débito")
    CREDIT = "credit", _l("cartão de crédito")
    PIX = "pix", _l("pix")
    TRANSFER = "transfer", _l("transferência")
    BOLETO = "boleto", _l("boleto")
    OTHER = "other", _l("outro")


class AdjustmentKind(Vocabulary):
    """Why a plan's balance is adjusted without money moving (a discount and a write-off lower it)."""

    DISCOUNT = "discount", _l("desconto")
    WRITE_OFF = "write_off", _l("baixa de saldo")
    SURCHARGE = "surcharge", _l("acréscimo")


class InstallmentState(Vocabulary):
    """What the payments cover of an instalment (computed, never stored)."""

    PAID = "paid", _l("paga")
    PARTIAL = "partial", _l("parcial")
    PENDING = "pending", _l("pendente")


class FindingCode(Vocabulary):
    """An odontogram finding on one tooth."""

    CARIES = "caries", _l("cárie")
    RESTORATION = "restoration", _l("restauração")
    MISSING = "missing", _l("ausente")
    EXTRACTION_INDICATED = "extraction_indicated", _l("extração indicada")
    CROWN = "crown", _l("coroa")
    ROOT_CANAL = "root_canal", _l("tratamento de canal")
    SEALANT = "sealant", _l("selante")
    IMPLANT = "implant", _l("implante")


class RecallStatus(Vocabulary):
    """Whether a recall is still on the call-back list."""

    OPEN = "open", _l("em aberto")
    DONE = "done", _l("concluído")
    CANCELLED = "cancelled", _l("cancelado")


class RecallOutcome(Vocabulary):
    """The outcome of one call-back attempt."""

    NO_ANSWER = "no_answer", _l("não atendeu")
    LEFT_MESSAGE = "left_message", _l("recado deixado")
    CALL_BACK_LATER = "call_back_later", _l("pediu para ligar depois")
    WRONG_NUMBER = "wrong_number", _l("número errado")
    SCHEDULED = "scheduled", _l("consulta agendada")
    DECLINED = "declined", _l("recusou o retorno")


class DocumentKind(Vocabulary):
    """What an issued document is."""

    PRESCRIPTION = "prescription", _l("receita")
    CERTIFICATE = "certificate", _l("atestado")
    EXAM_REQUEST = "exam_request", _l("pedido de exame")


class AgendaView(Vocabulary):
    """How the agenda opens: one day for every dentist, or one dentist's week."""

    DAY = "day", _l("dia")
    WEEK = "week", _l("semana")


class SlotDensity(Vocabulary):
    """How tall the agenda's slots are drawn."""

    COMPACT = "compact", _l("compacta")
    NORMAL = "normal", _l("normal")
    COMFORTABLE = "comfortable", _l("espaçosa")


class Sex(Vocabulary):
    """A patient's sex as registered (single-letter codes)."""

    F = "F", _l("feminino")
    M = "M", _l("masculino")
    O = "O", _l("outro")  # noqa: E741 - the code itself


class SessionEndReason(Vocabulary):
    """Why a login session ended."""

    LOGOUT = "logout", _l("saída")
    PASSWORD_CHANGE = "password_change", _l("troca de senha")
    DEACTIVATED = "deactivated", _l("conta desativada")
    ADMIN = "admin", _l("encerrada pelo administrador")
    IDLE = "idle", _l("inatividade")
    EXPIRED = "expired", _l("tempo máximo de sessão")


# Every vocabulary by name, for templates (`{{ plan.status|label(PlanStatus) }}`) and tests.
VOCABULARIES = {
    vocabulary.__name__: vocabulary
    for vocabulary in (
        Role,
        AppointmentStatus,
        ContactOutcome,
        PlanStatus,
        AnamnesisStatus,
        PaymentKind,
        PaymentMethod,
        AdjustmentKind,
        InstallmentState,
        FindingCode,
        RecallStatus,
        RecallOutcome,
        DocumentKind,
        Sex,
        SessionEndReason,
        AgendaView,
        SlotDensity,
    )
}
