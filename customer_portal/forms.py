"""Portal forms (Flask-WTF: CSRF on every form, labelled fields, localised messages)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

#: FAB's e-mail column is 320 characters; logins (INN, account number) are shorter.
MAX_LOGIN_LENGTH = 320
#: Long enough for any real password, short enough that hashing it is cheap.
MAX_PASSWORD_LENGTH = 256


class SignInForm(FlaskForm):
    """E-mail or login (INN / account number) and password [004 §2.3]."""

    login = StringField(
        _l("E-mail or login"),
        validators=[DataRequired(message=_l("Enter your e-mail or login.")),
                    Length(max=MAX_LOGIN_LENGTH, message=_l("The login is too long."))],
        filters=[lambda value: value.strip() if isinstance(value, str) else value],
        render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"},
    )
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(message=_l("Enter your password.")),
                    Length(max=MAX_PASSWORD_LENGTH, message=_l("The password is too long."))],
        render_kw={"autocomplete": "current-password"},
    )
    remember_me = BooleanField(_l("Remember me"))
