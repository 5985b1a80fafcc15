"""Routes of the admin blueprint: staff accounts, audit log viewer, system page, clinic settings."""

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.blueprints.admin import bp
from app.blueprints.admin.forms import AccountForm, NewAccountForm, PasswordResetForm, ReasonForm, SettingsForm
from app.blueprints.helpers import apply_service_errors, date_arg, id_arg, page_arg, per_page_arg
from app.models.users import User
from app.security import current_session_id, start_session
from app.services import history, performance, sessions, settings, system, users
from app.services.errors import ConflictError, ValidationError
from app.services.guards import get_or_404
from app.services.validation import format_cnpj, format_phone


def _account(user_id: int) -> User:
    return get_or_404(User, user_id, "Usuário")


@bp.get("/users", endpoint="users")
def users_list():
    """Every staff account, active or not, with its live sessions and any login delay."""
    accounts = users.list_users()
    return render_template(
        "admin/users.html",
        accounts=accounts,
        delays=users.login_delays(accounts),
        session_counts=sessions.active_session_counts(a.id for a in accounts),
    )


@bp.route("/users/new", methods=["GET", "POST"])
def user_new():
    """Create a staff account."""
    form = NewAccountForm()
    if form.validate_on_submit():
        try:
            user = users.create_user(
                form.username.data,
                form.full_name.data,
                form.role.data,
                form.password.data,
                email=form.email.data,
                cro=form.cro.data,
            )
        except ValidationError as exc:
            apply_service_errors(form, exc.errors)
        else:
            flash(
                _("Conta de %(name)s criada. Informe o usuário e a senha inicial à pessoa.", name=user.full_name),
                "success",
            )
            return redirect(url_for("admin.users"))
    return render_template("admin/user_form.html", form=form, account=None)


@bp.route("/users/<id:user_id>/edit", methods=["GET", "POST"])
def user_edit(user_id: int):
    """Change an account's name, e-mail, role or CRO."""
    account = _account(user_id)
    form = AccountForm(obj=account)
    if form.validate_on_submit():
        try:
            users.update_user(account.id, form.full_name.data, form.role.data, email=form.email.data, cro=form.cro.data)
        except ValidationError as exc:
            apply_service_errors(form, exc.errors)
        except ConflictError as exc:
            form.form_errors.append(exc.message)
        else:
            flash(_("Conta atualizada."), "success")
            return redirect(url_for("admin.users"))
    return render_template("admin/user_form.html", form=form, account=account)


@bp.route("/users/<id:user_id>/password", methods=["GET", "POST"])
def user_password(user_id: int):
    """Set a new password for an account; its open sessions end."""
    account = _account(user_id)
    form = PasswordResetForm()
    if form.validate_on_submit():
        try:
            updated = users.set_password(account.id, form.password.data)
        except ValidationError as exc:
            apply_service_errors(form, exc.errors)
        else:
            if updated.id == current_user.id:  # every session of the account ended, this one included
                start_session(updated, sessions.start_session(updated.id, request.user_agent.string))
            flash(
                _(
                    "Senha de %(name)s redefinida. As sessões abertas dessa conta foram encerradas.",
                    name=account.full_name,
                ),
                "success",
            )
            return redirect(url_for("admin.users"))
    return render_template("admin/user_password.html", form=form, account=account)


@bp.route("/users/<id:user_id>/deactivate", methods=["GET", "POST"])
def user_deactivate(user_id: int):
    """Deactivate an account with a written reason; its sessions end at once."""
    account = _account(user_id)
    try:
        users.refuse_own_deactivation(account.id)
    except ConflictError as exc:
        flash(exc.message, "warning")
        return redirect(url_for("admin.users"))
    form = ReasonForm()
    if form.validate_on_submit():
        try:
            users.deactivate_user(account.id, form.reason.data)
        except ValidationError as exc:
            apply_service_errors(form, exc.errors)
        except ConflictError as exc:
            form.form_errors.append(exc.message)
        else:
            flash(_("Conta de %(name)s desativada.", name=account.full_name), "success")
            return redirect(url_for("admin.users"))
    return render_template("admin/user_deactivate.html", form=form, account=account)


@bp.post("/users/<id:user_id>/activate")
def user_activate(user_id: int):
    """Reactivate an account."""
    try:
        account = users.activate_user(user_id)
    except ConflictError as exc:
        flash(exc.message, "warning")
    else:
        flash(_("Conta de %(name)s reativada.", name=account.full_name), "success")
    return redirect(url_for("admin.users"))


@bp.post("/users/<id:user_id>/unlock")
def user_unlock(user_id: int):
    """Lift every login delay of an account (after too many wrong passwords)."""
    account = users.unlock_user(user_id)
    flash(_("Entrada de %(name)s desbloqueada.", name=account.full_name), "success")
    return redirect(url_for("admin.users"))


@bp.get("/users/<id:user_id>/sessions")
def user_sessions(user_id: int):
    """An account's live sessions: when each began and was last used, from which address and browser."""
    account = _account(user_id)
    return render_template(
        "admin/user_sessions.html",
        account=account,
        sessions=sessions.active_sessions(account.id),
        own_session_id=current_session_id(),
    )


@bp.post("/users/<id:user_id>/sessions/<id:session_id>/end")
def user_session_end(user_id: int, session_id: int):
    """End one session of an account (audited)."""
    try:
        sessions.end_session_of(user_id, session_id)
    except ConflictError as exc:
        flash(exc.message, "warning")
    else:
        flash(_("Sessão encerrada."), "success")
    return redirect(url_for("admin.user_sessions", user_id=user_id))


@bp.post("/users/<id:user_id>/sessions/end-all")
def user_sessions_end_all(user_id: int):
    """End every session of an account (audited); ending one's own logs this browser out too."""
    ended = sessions.end_all_sessions_of(user_id)
    flash(_("Sessões encerradas: %(count)s.", count=ended), "success")
    return redirect(url_for("admin.user_sessions", user_id=user_id))


def _audit_filters() -> history.AuditFilters:
    """The audit viewer's filters from the query string; garbage is ignored, not an error."""
    return history.AuditFilters(
        user_id=id_arg("user"),
        patient_id=id_arg("patient"),
        action=request.args.get("action", "").strip()[:40] or None,
        table_name=request.args.get("table", "").strip()[:60] or None,
        date_from=date_arg("from"),
        date_to=date_arg("to"),
    )


@bp.get("/audit")
def audit():
    """The audit log, newest first, filtered and paginated, with old → new values."""
    filters = _audit_filters()
    actions, tables = history.audit_choices()
    return render_template(
        "admin/audit.html",
        filters=filters,
        page=history.search_audit(filters, page_arg(), per_page_arg(50)),
        accounts=users.list_users(),
        actions=actions,
        tables=tables,
        action_labels=history.ACTION_LABELS,
    )


@bp.get("/system", endpoint="system")
def system_page():
    """Per database: journal mode, synchronous, migration revision vs head, size, pending outbox events; per route:
    requests and latency percentiles, with the audit relay's lag (the figures /metrics exposes)."""
    return render_template("admin/system.html", status=system.system_status(), performance=performance.performance())


# Example values the settings page fills the saved message templates with, to show how a message reads.
SAMPLE_MESSAGE_VALUES = {"paciente": "Maria", "data": "09/07/2026", "hora": "14:30", "dentista": "Dra. Ana"}

SETTINGS_TEXT_FIELDS = (
    "name",
    "cnpj",
    "address",
    "phone",
    "state",
    "paper_size",
    "confirmation_template",
    "recall_template",
    "pix_key",
    "merchant_name",
    "merchant_city",
)


def _fill_settings_form(form: SettingsForm, current: settings.Settings) -> None:
    """The form as the saved settings read (CNPJ and phone as people type them)."""
    for name in SETTINGS_TEXT_FIELDS:
        form[name].data = getattr(current, name)
    form.cnpj.data, form.phone.data = format_cnpj(current.cnpj), format_phone(current.phone)
    form.slot_minutes.data = str(current.slot_minutes)
    for day in settings.WEEKDAYS:
        hours = current.opening_hours.get(day)
        form[f"hours_{day}_closed"].data = hours is None
        form[f"hours_{day}_opens"].data = hours[0].strftime("%H:%M") if hours else ""
        form[f"hours_{day}_closes"].data = hours[1].strftime("%H:%M") if hours else ""


def _settings_values(form: SettingsForm) -> dict:
    """The form's data as `settings.update_settings` takes it."""
    values = {name: form[name].data for name in SETTINGS_TEXT_FIELDS}
    slot = (form.slot_minutes.data or "").strip()
    values["slot_minutes"] = int(slot) if slot.isdigit() and len(slot) < 4 else None
    values["opening_hours"] = {
        day: None
        if form[f"hours_{day}_closed"].data
        else (form[f"hours_{day}_opens"].data or "", form[f"hours_{day}_closes"].data or "")
        for day in settings.WEEKDAYS
    }
    return values


def _apply_settings_errors(form: SettingsForm, errors: dict[str, str]) -> None:
    """Service errors beside their fields; a weekday's hours error (`hours_<n>`) beside that day's opening time."""
    apply_service_errors(
        form, {(f"{name}_opens" if name.startswith("hours_") else name): message for name, message in errors.items()}
    )


@bp.route("/settings", methods=["GET", "POST"], endpoint="settings")
def settings_page():
    """The clinic's settings: name, CNPJ, address, phone, UF, hours, slot length, paper, messages, PIX."""
    current = settings.current()
    form = SettingsForm()
    if request.method == "GET":
        _fill_settings_form(form, current)
    if form.validate_on_submit():
        try:
            settings.update_settings(**_settings_values(form))
        except ValidationError as exc:
            _apply_settings_errors(form, exc.errors)
        else:
            flash(_("Configurações da clínica salvas."), "success")
            return redirect(url_for("admin.settings"))
    sample = {**SAMPLE_MESSAGE_VALUES, "clinica": current.name}
    return render_template(
        "admin/settings.html",
        form=form,
        current=current,
        placeholders=settings.PLACEHOLDERS,
        previews={
            "confirmation_template": settings.fill_template(current.confirmation_template, sample),
            "recall_template": settings.fill_template(current.recall_template, sample),
        },
        updated_by=history.user_names([current.updated_by_user_id]).get(current.updated_by_user_id),
    )
