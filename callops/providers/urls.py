"""Inbound provider callbacks, mounted under /callbacks/."""

from django.urls import path

from . import callbacks

app_name = "providers"

urlpatterns = [
    path("<slug:kind>/<str:token>/", callbacks.provider_callback, name="callback"),
]
