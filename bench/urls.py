"""The benchmarks' urlconf: the product's routes plus the comparison views of bench/views.py."""

from django.urls import path

from bench import views
from callops.urls import urlpatterns as product

urlpatterns = [
    path("bench/baseline", views.baseline),
    path("bench/create-floor", views.create_floor),
    path("bench/bare", views.bare),
    path("bench/bare/<str:call_id>", views.bare),
    *product,
]
