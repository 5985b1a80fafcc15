"""The service layer's errors: readable Portuguese for the UI, structured fields for code."""


class ServiceError(Exception):
    """Base of every error a service raises on purpose."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ValidationError(ServiceError):
    """Bad input: `errors` maps field name to a message shown beside that field."""

    def __init__(self, errors: dict[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{field}: {msg}" for field, msg in self.errors.items()))


class RelatedEntityNotFound(ServiceError):
    """An id stored from another bind (or table) does not exist, is inactive or has the wrong role."""

    def __init__(self, entity: str, entity_id, bind: str, reason: str = "não encontrado"):
        self.entity, self.entity_id, self.bind, self.reason = entity, entity_id, bind, reason
        super().__init__(f"{entity} #{entity_id} {reason} (base {bind}).")


class NotFound(ServiceError):
    """The row a service was asked to act on does not exist."""

    def __init__(self, entity: str, entity_id):
        self.entity, self.entity_id = entity, entity_id
        super().__init__(f"{entity} #{entity_id} não encontrado.")


class ConflictError(ServiceError):
    """The request contradicts existing data (overlapping appointment, duplicate CPF, closed day)."""


class PatientReadOnly(RelatedEntityNotFound, ConflictError):
    """A write on a deactivated patient: the record is read-only until it is reactivated.

    A ConflictError (the request contradicts the record's state) that is also the RelatedEntityNotFound
    "Paciente #N está desativado" the cross-table checks always raised, so callers of either keep working.
    """

    MESSAGE = "Paciente desativado: o cadastro é somente leitura até ser reativado."

    def __init__(self, patient_id: int, bind: str = "pacientes"):
        super().__init__("Paciente", patient_id, bind, "está desativado")
        self.message = self.MESSAGE
        self.args = (self.MESSAGE,)


class PermissionDenied(ServiceError):
    """The acting user may not do this."""
