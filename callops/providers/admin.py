"""Provider accounts in the admin, without their credentials.

Credentials and callback secrets are encrypted at rest and write-only everywhere; staff change
them in the dashboard, which re-encrypts them, never here.
"""

from django.contrib import admin

from .models import ProviderAccount


@admin.register(ProviderAccount)
class ProviderAccountAdmin(admin.ModelAdmin):
    list_display = ["name", "organization", "kind", "base_url", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name"]
    exclude = ["credentials_encrypted", "callback_secret_encrypted"]
    raw_id_fields = ["organization"]
