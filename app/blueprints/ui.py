"""Layout helpers for every page: Jinja filters (clinic time, money, CPF, phone, labels), navigation, error pages."""

import re
import shutil
from datetime import date, datetime

from flask import Blueprint, current_app, render_template, request, url_for
from flask_babel import format_decimal
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import SecurityError

from app.db import BIND_KEYS, engine_of
from app.db.probe import sqlite_path
from app.security import can, is_htmx
from app.services import clock, settings
from app.services.errors import NotFound, PermissionDenied, ServiceError
from app.services.validation import format_cnpj, format_cpf, format_phone
from app.vocabulary import VOCABULARIES, Vocabulary

bp = Blueprint("ui", __name__)

ISO_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?\+00:00$")

# (endpoint, label, endpoint prefix marking it current) of the main navigation; each item shows only to
# roles the policy lets through, and only once its blueprint exists.
NAV_ITEMS = (
    ("main.index", _l("Início"), "main."),
    ("patients.index", _l("Pacientes"), "patients."),
    ("agenda.day", _l("Agenda"), "agenda."),
    ("confirmations.index", _l("Confirmações"), "confirmations."),
    ("recalls.index", _l("Retornos"), "recalls."),
    ("cash.index", _l("Caixa"), "cash."),
    ("reports.index", _l("Relatórios"), "reports."),
)
# The administrator's pages, in one "Administração" menu after the main items (the bar stays one line wide).
ADMIN_MENU = (
    ("admin.users", _l("Equipe"), "admin.user"),
    ("procedures.index", _l("Procedimentos"), "procedures."),
    ("admin.settings", _l("Configurações"), "admin.settings"),
    ("admin.audit", _l("Auditoria"), "admin.audit"),
    ("admin.system", _l("Sistema"), "admin.system"),
)

ERROR_PAGES = {
    400: (_l("Pedido inválido"), _l("Não foi possível entender o pedido. Volte e tente de novo.")),
    403: (_l("Acesso negado"), _l("Seu perfil não tem permissão para abrir esta página.")),
    404: (_l("Página não encontrada"), _l("O endereço não existe ou o registro foi removido.")),
    405: (_l("Ação não permitida"), _l("Esta página não aceita esse tipo de pedido.")),
    409: (_l("Não foi possível concluir"), _l("O pedido contradiz dados já registrados.")),
    413: (_l("Envio grande demais"), _l("O formulário passa do tamanho permitido. Encurte o texto e tente de novo.")),
    503: (_l("Banco de dados indisponível"), _l("O banco de dados não está acessível agora.")),
    500: (_l("Erro interno"), _l("Algo deu errado do nosso lado. A equipe técnica pode consultar o registro.")),
}


@bp.app_template_filter("date")
def date_filter(value: date | datetime | None) -> str:
    """dd/mm/aaaa; an instant is first moved to the clinic's time zone."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return clock.format_date(clock.to_local(value).date())
    return clock.format_date(value)


@bp.app_template_filter("datetime")
def datetime_filter(value: datetime | None) -> str:
    """dd/mm/aaaa às HH:MM in the clinic's time zone."""
    return clock.format_datetime(value) if value is not None else ""


@bp.app_template_filter("time")
def time_filter(value: datetime | None) -> str:
    """HH:MM in the clinic's time zone."""
    return clock.format_time(value) if value is not None else ""


@bp.app_template_filter("money")
def money_filter(cents: int | None) -> str:
    """R$ 1.234,56 from integer cents."""
    return clock.format_money(cents or 0)


@bp.app_template_filter("duration")
def duration_filter(seconds: float | None) -> str:
    """A duration given in seconds: "12,5 ms" below a second, "2,5 s" from there; "—" when unknown."""
    if seconds is None:
        return "—"
    if seconds < 1:
        return f"{format_decimal(seconds * 1000, format='#,##0.0')} ms"
    return f"{format_decimal(seconds, format='#,##0.0')} s"


@bp.app_template_filter("cpf")
def cpf_filter(cpf: str | None) -> str:
    """000.000.000-00 from eleven digits."""
    return format_cpf(cpf)


@bp.app_template_filter("cnpj")
def cnpj_filter(cnpj: str | None) -> str:
    """00.000.000/0000-00 from fourteen characters."""
    return format_cnpj(cnpj)


@bp.app_template_global()
def clinic_settings() -> settings.Settings:
    """The clinic's settings (name, CNPJ, address, paper size, ...) for headers and printed pages."""
    return settings.current()


@bp.app_template_filter("phone")
def phone_filter(phone: str | None) -> str:
    """(11) 98765-4321 from a phone stored in E.164."""
    return format_phone(phone)


@bp.app_template_filter("audit_value")
def audit_value_filter(value):
    """An audit value for people: instants in clinic time, booleans as sim / não, the rest as stored."""
    if isinstance(value, bool):
        return _l("sim") if value else _l("não")
    if isinstance(value, str) and ISO_INSTANT.match(value):
        return clock.format_datetime(datetime.fromisoformat(value))
    return value


@bp.app_template_filter("cep")
def cep_filter(cep: str | None) -> str:
    """00000-000 from eight digits."""
    if not cep or len(cep) != 8:
        return cep or ""
    return f"{cep[:5]}-{cep[5:]}"


@bp.app_template_filter("label")
def label_filter(value: str | None, vocabulary: type[Vocabulary]) -> str:
    """The Portuguese label of a stored value: `{{ plan.status|label(PlanStatus) }}` (capitalise with `|capitalize`)."""
    return vocabulary.label_of(value)


@bp.record_once
def _vocabulary_globals(state) -> None:
    """Every vocabulary (`Role`, `PlanStatus`, ...) is a template global, for `label` and comparisons."""
    state.app.jinja_env.globals.update(VOCABULARIES)


@bp.app_context_processor
def layout_context() -> dict:
    """What base.html needs: the navigation items the current user may use, and which one is current."""
    current = request.endpoint or ""

    def shown(items):
        return [(endpoint, label, current.startswith(prefix)) for endpoint, label, prefix in items if can(endpoint)]

    return {"nav_items": shown(NAV_ITEMS), "admin_menu": shown(ADMIN_MENU)}


@bp.app_template_global()
def page_url(number: int) -> str:
    """The current page's URL with another page number, keeping every other query argument."""
    args = {**request.args.to_dict(), "page": number}
    return url_for(request.endpoint, **(request.view_args or {}), **args)


def error_page(code: int, detail: str | None = None):
    """A friendly Portuguese error page (a fragment for HTMX requests)."""
    title, message = ERROR_PAGES.get(code, ERROR_PAGES[500])
    template = "errors/_error.html" if is_htmx() else "errors/error.html"
    return render_template(template, code=code, title=title, message=detail or message), code


@bp.app_errorhandler(CSRFError)
def csrf_error(_exc):
    """A form whose security token is missing or expired."""
    return error_page(400, str(_l("O formulário expirou ou veio incompleto. Recarregue a página e tente de novo.")))


@bp.app_errorhandler(SecurityError)
def untrusted_host(_exc):
    """A Host header outside TRUSTED_HOSTS: a bare page, as no link can be built for a host Sorriso does not serve."""
    message = _l("Este servidor não atende pelo endereço usado. Abra o Sorriso pelo endereço configurado da clínica.")
    return render_template("errors/bare.html", code=400, title=ERROR_PAGES[400][0], message=message), 400


@bp.app_errorhandler(NotFound)
def service_not_found(exc: NotFound):
    """A service could not find the row a page asked for."""
    return error_page(404, exc.message)


@bp.app_errorhandler(PermissionDenied)
def service_permission_denied(exc: PermissionDenied):
    """A service refused the acting user."""
    return error_page(403, exc.message)


# What a database failure means for the person at the screen (SQLite's messages; PostgreSQL's read alike).
DATABASE_FAULTS = (
    (("locked", "busy", "could not obtain lock"), _l("O banco de dados está ocupado por outra operação demorada.")),
    (("readonly", "read-only", "read only"), _l("O banco de dados está somente leitura (arquivo ou disco protegido).")),
    (("disk is full", "no space"), _l("O disco do servidor está cheio.")),
)


def disk_nearly_full(threshold: int = 1024 * 1024) -> bool:
    """Whether a SQLite database's disk has less than `threshold` bytes free."""
    for bind in BIND_KEYS:
        path = sqlite_path(engine_of(bind))
        try:
            if path is not None and shutil.disk_usage(path.parent).free < threshold:
                return True
        except OSError:
            continue
    return False


@bp.app_errorhandler(OperationalError)
def database_unavailable(exc: OperationalError):
    """The database refused: locked past the busy timeout, read-only, disk full, unreachable. Nothing was saved
    (the unit of work rolled back); the page says what happened and what to do, the log keeps the detail."""
    detail = str(getattr(exc, "orig", exc)).lower()
    if "disk i/o error" in detail and disk_nearly_full():
        detail = "disk is full"  # a WAL write that met the end of the disk is reported as an I/O error
    cause = next(
        (message for words, message in DATABASE_FAULTS if any(word in detail for word in words)),
        _l("O banco de dados não está acessível agora."),
    )
    current_app.logger.error("database unavailable on %s: %s", request.path, detail)
    advice = _l("Nada foi gravado. Tente de novo em instantes; se continuar, avise o administrador.")
    # A bare page rendered without the context processors: they would ask the database again (who is logged
    # in, which menu items to show).
    page = current_app.jinja_env.get_template("errors/bare.html")
    return page.render(code=503, title=ERROR_PAGES[503][0], message=f"{cause} {advice}"), 503


@bp.app_errorhandler(ServiceError)
def service_refused(exc: ServiceError):
    """Any other refusal a route did not handle itself (a conflict, an inactive related record)."""
    return error_page(409, exc.message)


for _code in ERROR_PAGES:
    bp.app_errorhandler(_code)(lambda _exc, code=_code: error_page(code))
