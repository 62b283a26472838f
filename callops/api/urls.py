"""Mounts the routers on the API object; the root URLconf includes `api.urls` at /v1/."""

from .agents import router as agents_router
from .analytics import router as analytics_router
from .base import api
from .batches import router as batches_router
from .calling_policy import router as calling_policy_router
from .calls import router as calls_router
from .numbers import router as numbers_router
from .routing_profiles import router as routing_profiles_router
from .suppressions import router as suppressions_router
from .webhooks import router as webhooks_router

api.add_router("", calls_router)
api.add_router("", agents_router)
api.add_router("", webhooks_router)
api.add_router("", batches_router)
api.add_router("", numbers_router)
api.add_router("", suppressions_router)
api.add_router("", calling_policy_router)
api.add_router("", routing_profiles_router)
api.add_router("", analytics_router)
