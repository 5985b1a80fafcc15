"""Forms of the confirmations blueprint."""

from flask_wtf import FlaskForm
from wtforms import HiddenField
from wtforms.validators import Length


class ContactForm(FlaskForm):
    """A contact attempt about an appointment: its outcome (message sent, or the patient did not confirm)."""

    outcome = HiddenField(validators=[Length(max=20)])
