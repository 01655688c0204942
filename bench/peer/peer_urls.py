"""URLs of the peer bench: django-helpdesk under /helpdesk/ as its docs suggest."""
from django.urls import include, path

urlpatterns = [path("helpdesk/", include("helpdesk.urls", namespace="helpdesk"))]
