"""CSRF: form posts and HTMX posts are refused without the token and accepted with it (field or header)."""

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models.pacientes import Patient
from tests.support import HTMX, csrf_token, login_as

NEW_PATIENT = {"full_name": "Beatriz Lima", "phone": "(11) 91234-5678"}


@pytest.fixture
def logged_in(client):
    """A client logged in as a receptionist."""
    login_as(client, "receptionist")
    return client


def _patients_named(app, name: str) -> int:
    """How many patients carry this exact name, read afresh."""
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Patient).where(Patient.full_name == name))


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["form", "htmx"])
def test_post_without_token_is_refused(app, logged_in, headers):
    """No token, no write: a 400 with a friendly Portuguese explanation."""
    response = logged_in.post("/patients/new", data=NEW_PATIENT, headers=headers)
    assert response.status_code == 400
    assert "formulário expirou" in response.get_data(as_text=True)
    assert _patients_named(app, "Beatriz Lima") == 0


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["form", "htmx"])
def test_post_with_a_forged_token_is_refused(app, logged_in, headers):
    """A token that was not issued to this session is refused too."""
    response = logged_in.post("/patients/new", data={**NEW_PATIENT, "csrf_token": "forged"}, headers=headers)
    assert response.status_code == 400
    assert _patients_named(app, "Beatriz Lima") == 0


def test_form_post_with_token_field_works(app, logged_in):
    """The hidden csrf_token field of the page's form makes the post go through."""
    token = csrf_token(logged_in, "/patients/new")
    response = logged_in.post("/patients/new", data={**NEW_PATIENT, "csrf_token": token})
    assert response.status_code == 302
    assert _patients_named(app, "Beatriz Lima") == 1


def test_htmx_post_with_token_header_works(app, logged_in):
    """HTMX sends the token from <meta name="csrf-token"> as the X-CSRFToken header (see static/js/app.js)."""
    token = csrf_token(logged_in, "/patients/new")
    response = logged_in.post("/patients/new", data=NEW_PATIENT, headers={**HTMX, "X-CSRFToken": token})
    assert response.status_code == 302
    assert _patients_named(app, "Beatriz Lima") == 1


def test_token_of_another_session_is_refused(app, logged_in):
    """A token stolen from another browser's page does not work in this session."""
    other = app.test_client()
    login_as(other, "receptionist")
    stolen = csrf_token(other, "/")
    response = logged_in.post("/patients/new", data={**NEW_PATIENT, "csrf_token": stolen})
    assert response.status_code == 400
