"""Routes of the auth blueprint: /setup, /login, /logout (POST), /account/password."""

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.blueprints.auth import bp
from app.blueprints.auth.forms import ChangePasswordForm, LoginForm, SetupForm
from app.blueprints.helpers import apply_service_errors
from app.security import SESSION_TOKEN, end_session, is_safe_next, start_session
from app.services import sessions, users
from app.services.errors import ValidationError
from app.vocabulary import Role


@bp.route("/setup", methods=["GET", "POST"])
def setup():
    """Create the clinic's first administrator; gone (404) once any account exists."""
    if users.setup_done():
        abort(404)
    form = SetupForm()
    if form.validate_on_submit():
        try:
            users.create_user(
                form.username.data, form.full_name.data, Role.ADMIN, form.password.data, email=form.email.data
            )
        except ValidationError as exc:
            apply_service_errors(form, exc.errors)
        else:
            flash(_("Administrador criado. Entre com o usuário e a senha que você escolheu."), "success")
            return redirect(url_for("auth.login"))
    return render_template("auth/setup.html", form=form)


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Username and password; throttling, lock-out and auditing happen in the users service."""
    form = LoginForm(next=request.args.get("next", ""))
    if current_user.is_authenticated and request.method == "GET":
        return redirect(url_for("main.index"))
    if form.validate_on_submit():
        result = users.authenticate(form.username.data, form.password.data, request.user_agent.string)
        if result.user is not None:
            start_session(result.user, result.session_token)
            target = form.next.data
            return redirect(target if is_safe_next(target) else url_for("main.index"))
        form.form_errors.append(result.message)
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
def logout():
    """End the session on the server and in the browser (POST only, so a link or an image cannot log anyone out)."""
    sessions.end_session(session.get(SESSION_TOKEN))
    end_session()
    flash(_("Você saiu do Sorriso."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
def change_password():
    """Change one's own password; every session of this user ends, and this browser gets a new one."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            user = users.change_own_password(current_user.id, form.current_password.data, form.password.data)
        except ValidationError as exc:
            apply_service_errors(form, exc.errors)
        else:
            start_session(user, sessions.start_session(user.id, request.user_agent.string))
            flash(_("Senha alterada. As outras sessões abertas com o seu usuário foram encerradas."), "success")
            return redirect(url_for("main.index"))
    return render_template("auth/password.html", form=form)
