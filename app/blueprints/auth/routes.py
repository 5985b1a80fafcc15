"""Routes of the auth blueprint: /setup, /login, /logout (POST), /account/password."""

import time

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user

from app.blueprints.auth import bp
from app.blueprints.auth.forms import ChangePasswordForm, LoginForm, SetupForm
from app.blueprints.helpers import apply_service_errors
from app.security import LAST_SEEN, end_session, is_safe_next
from app.services import users
from app.services.errors import ValidationError


def _start_session(user) -> None:
    """A fresh session for a user who just proved who they are (no state carried over from before)."""
    session.clear()
    login_user(user)
    session[LAST_SEEN] = int(time.time())


@bp.route("/setup", methods=["GET", "POST"])
def setup():
    """Create the clinic's first administrator; gone (404) once any account exists."""
    if users.count_users() > 0:
        abort(404)
    form = SetupForm()
    if form.validate_on_submit():
        try:
            users.create_user(
                form.username.data, form.full_name.data, "admin", form.password.data, email=form.email.data
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
        result = users.authenticate(form.username.data, form.password.data)
        if result.user is not None:
            _start_session(result.user)
            target = form.next.data
            return redirect(target if is_safe_next(target) else url_for("main.index"))
        form.form_errors.append(result.message)
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
def logout():
    """End the session (POST only, so a link or an image cannot log anyone out)."""
    users.record_logout(current_user.id)
    end_session()
    flash(_("Você saiu do Sorriso."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
def change_password():
    """Change one's own password; every other session of this user ends (the session token rotates)."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            user = users.change_own_password(current_user.id, form.current_password.data, form.password.data)
        except ValidationError as exc:
            apply_service_errors(form, exc.errors)
        else:
            _start_session(user)
            flash(_("Senha alterada. As outras sessões abertas com o seu usuário foram encerradas."), "success")
            return redirect(url_for("main.index"))
    return render_template("auth/password.html", form=form)
