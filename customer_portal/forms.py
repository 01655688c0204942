"""Portal forms (Flask-WTF: CSRF on every form, labelled fields, localised messages)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, Length


class SignInForm(FlaskForm):
    login = StringField(_l("E-mail or login"), validators=[DataRequired(message=_l("Enter your e-mail or login.")),
                                                            Length(max=320)])
    password = PasswordField(_l("Password"), validators=[DataRequired(message=_l("Enter your password."))])
    remember_me = BooleanField(_l("Remember me"))
