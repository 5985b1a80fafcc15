"""Forms of the appointments blueprint."""

from flask_wtf import FlaskForm
from wtforms import HiddenField
from wtforms.validators import Length


class StatusForm(FlaskForm):
    """A status change: the new status (the clicked button), which partial to answer with, where to go back."""

    status = HiddenField(validators=[Length(max=20)])
    view = HiddenField(validators=[Length(max=20)])
    next = HiddenField(validators=[Length(max=500)])
