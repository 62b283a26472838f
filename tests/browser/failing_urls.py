"""The project's URLs plus one view that crashes, so a test can see the 500 page a user would."""

from django.urls import path

from callops.urls import handler400, handler403, handler404, handler500
from callops.urls import urlpatterns as project_urls

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]


def crash(request):
    raise RuntimeError("connection to server at 10.0.0.5 failed: FATAL password authentication failed")


urlpatterns = [path("crash/", crash), *project_urls]
