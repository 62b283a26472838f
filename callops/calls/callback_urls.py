"""Inbound provider callbacks, mounted under /callbacks/.

The URL namespace stays `providers` (`providers:callback`): the route is the provider's, only the
view that applies its reports lives in `calls`.
"""

from django.urls import path

from . import provider_callbacks

app_name = "providers"

urlpatterns = [
    path("<slug:kind>/<str:token>/", provider_callbacks.provider_callback, name="callback"),
]
