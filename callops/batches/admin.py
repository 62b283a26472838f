"""Read-only admin view of batches for staff: every change goes through the batch services."""

from django.contrib import admin

from .models import Batch


@admin.register(Batch)
class BatchAdmin(admin.ModelAdmin):
    list_display = ["name", "organization", "status", "created_at"]
    list_filter = ["status"]
    search_fields = ["name", "public_id"]
    raw_id_fields = ["organization", "agent"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Batch._meta.fields]

    def has_add_permission(self, request):
        return False
