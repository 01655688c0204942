"""Back-office home at /admin/ (the site root belongs to the customer portal)."""
from flask_appbuilder import IndexView


class BackOfficeIndexView(IndexView):
    route_base = "/admin"
    index_template = "admin/index.html"
