"""Flask-AppBuilder strings its own Russian catalog lacks (FAB 5.3 ships 137 of its strings).

Listing them here puts them in our catalog (scripts/i18n.py extracts `_l(...)` calls), and
Flask-Babel merges our catalog over FAB's, so the back office has no English leftovers.
Nothing imports this module; it exists for extraction only.
"""
from flask_babel import lazy_gettext as _l

FAB_MISSING_RUSSIAN = (
    _l("Add"),
    _l("Add Group"),
    _l("Are you sure you want to delete this item?"),
    _l("Database Error"),
    _l("Delete"),
    _l("Detail"),
    _l("Edit"),
    _l("Edit Group"),
    _l("Edit User Information"),
    _l("Groups"),
    _l("In"),
    _l("List Groups"),
    _l("Not In"),
    _l("Select Value"),
    _l("Show"),
    _l("Show Group"),
    _l("Sign In with "),
    _l("The user's password for authentication"),
    _l("User information changed"),
    _l("User(s) exists in the group, cannot delete"),
    _l("User(s) exists in the role, cannot delete"),
)
