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


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class TwoFactorForm(FlaskForm):
    """The 6-digit code mailed when signing in from a new device [004 §13.1.6]."""

    code = StringField(_l("Code from the e-mail"),
                       validators=[DataRequired(message=_l("Enter the code.")), Length(max=12)],
                       filters=[_strip],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "maxlength": "6"})


class RecoveryForm(FlaskForm):
    """The e-mail to send a recovery link to [004 §2.4]."""

    email = StringField(_l("E-mail"),
                        validators=[DataRequired(message=_l("Enter your e-mail.")),
                                    Length(max=MAX_LOGIN_LENGTH, message=_l("The e-mail is too long."))],
                        filters=[_strip], render_kw={"autocomplete": "email", "inputmode": "email"})


class NewPasswordForm(FlaskForm):
    """A new password twice (recovery link, invitation)."""

    new_password = PasswordField(_l("New password"),
                                 validators=[DataRequired(message=_l("Enter a new password.")),
                                             Length(max=MAX_PASSWORD_LENGTH, message=_l("The password is too long."))],
                                 render_kw={"autocomplete": "new-password"})
    confirm = PasswordField(_l("New password again"),
                            validators=[DataRequired(message=_l("Repeat the new password.")),
                                        Length(max=MAX_PASSWORD_LENGTH)],
                            render_kw={"autocomplete": "new-password"})


class ChangePasswordForm(NewPasswordForm):
    """Old password, new password twice, and whether to end the other sessions [004 §13.1.3]."""

    old_password = PasswordField(_l("Current password"),
                                 validators=[DataRequired(message=_l("Enter your current password.")),
                                             Length(max=MAX_PASSWORD_LENGTH)],
                                 render_kw={"autocomplete": "current-password"})
    end_other_sessions = BooleanField(_l("Sign out on all other devices"), default=True)


class PersonalDataForm(FlaskForm):
    last_name = StringField(_l("Last name"), validators=[Length(max=64)], filters=[_strip],
                            render_kw={"autocomplete": "family-name"})
    first_name = StringField(_l("First name"), validators=[Length(max=64)], filters=[_strip],
                             render_kw={"autocomplete": "given-name"})
    patronymic = StringField(_l("Patronymic"), validators=[Length(max=64)], filters=[_strip],
                             render_kw={"autocomplete": "additional-name"})
    organisation = StringField(_l("Organisation"), validators=[Length(max=255)], filters=[_strip],
                               render_kw={"autocomplete": "organization"})
    position = StringField(_l("Position"), validators=[Length(max=255)], filters=[_strip],
                           render_kw={"autocomplete": "organization-title"})


class PhoneForm(FlaskForm):
    phone = StringField(_l("Phone"), validators=[DataRequired(message=_l("Enter a phone number.")),
                                                 Length(max=32)],
                        filters=[_strip], render_kw={"autocomplete": "tel", "inputmode": "tel",
                                                     "placeholder": "+7 (912) 345-67-89"})


class EmailChangeForm(FlaskForm):
    email = StringField(_l("New e-mail"), validators=[DataRequired(message=_l("Enter your e-mail.")),
                                                      Length(max=MAX_LOGIN_LENGTH)],
                        filters=[_strip], render_kw={"autocomplete": "email", "inputmode": "email"})


class CodeForm(FlaskForm):
    """A code sent by e-mail (confirmation of an address)."""

    code = StringField(_l("Code from the e-mail"), validators=[DataRequired(message=_l("Enter the code.")),
                                                               Length(max=12)],
                       filters=[_strip],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "maxlength": "6"})


class DeleteAccountForm(FlaskForm):
    password = PasswordField(_l("Password"), validators=[DataRequired(message=_l("Enter your password.")),
                                                         Length(max=MAX_PASSWORD_LENGTH)],
                             render_kw={"autocomplete": "current-password"})
    confirm = BooleanField(_l("I understand that the account cannot be restored"),
                           validators=[DataRequired(message=_l("Confirm that you want to delete the account."))])


class SecondFactorForm(FlaskForm):
    enabled = BooleanField(_l("Ask for a code when signing in from a new device or browser"))


class EmptyForm(FlaskForm):
    """Buttons that only post (end a session, send a code): the CSRF token is the whole form."""
