"""Back-office home at /admin/ (the site root belongs to the customer portal): the staff dashboard.

Thin: which sections the user may open is FAB's permission check; the numbers come from
`crm.services.staff_home` (scoped like the desks they link to)."""
from flask import redirect, url_for
from flask_appbuilder import IndexView, expose
from flask_login import current_user

from crm.services import staff_home


class BackOfficeIndexView(IndexView):
    route_base = "/admin"
    index_template = "admin/index.html"

    def _can(self, permission: str, view: str) -> bool:
        return bool(self.appbuilder.sm.has_access(permission, view))

    @expose("/")
    def index(self):
        """Staff see their dashboard; a signed-in customer is sent to the portal, where they belong."""
        if not current_user.is_authenticated:
            return self.render_template(self.index_template, appbuilder=self.appbuilder, home=None)
        if not current_user.is_staff:
            return redirect(url_for("portal.index"))
        sections = {"appeals": self._can("can_list", "AppealDeskView"),
                    "readings": self._can("can_list", "ReadingsReviewView"),
                    "orders": self._can("can_list", "ServiceOrderView"),
                    "questions": self._can("can_list", "ContactQuestionView"),
                    "operations": self._can("can_list", "OperationsView"),
                    "report": self._can("can_list", "AppealReportView")}
        home = staff_home.staff_home(current_user, appeals=sections["appeals"], readings=sections["readings"],
                                     content=sections["orders"] or sections["questions"],
                                     operations=None if sections["operations"] else False)
        return self.render_template(self.index_template, appbuilder=self.appbuilder, home=home,
                                    sections=sections)
