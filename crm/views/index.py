"""Back-office home at /admin/ (the site root belongs to the customer portal)."""
from flask import redirect, url_for
from flask_appbuilder import IndexView, expose
from flask_login import current_user


class BackOfficeIndexView(IndexView):
    route_base = "/admin"
    index_template = "admin/index.html"

    @expose("/")
    def index(self):
        """Staff see the home page; a signed-in customer is sent to the portal, where they belong."""
        if current_user.is_authenticated and not current_user.is_staff:
            return redirect(url_for("portal.index"))
        return super().index()
