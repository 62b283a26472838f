"""Read-mostly admin views for staff: calls and their timelines, and agents (batches: batches/admin.py).

Status is never edited here: every change of a call's status goes through the lifecycle
service (design rule 2), so the admin shows calls and events read-only.
"""

from django.contrib import admin

from .models import Agent, Call, CallEvent


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    list_display = ["name", "organization", "provider_account", "is_active", "public_id"]
    list_filter = ["is_active"]
    search_fields = ["name", "public_id"]
    raw_id_fields = ["organization", "provider_account"]


class CallEventInline(admin.TabularInline):
    model = CallEvent
    extra = 0
    can_delete = False
    fields = ("created_at", "kind", "source", "from_status", "status", "raw_status", "reason", "ignored", "note")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Call)
class CallAdmin(admin.ModelAdmin):
    list_display = ["public_id", "organization", "to_number", "status", "provider", "created_at"]
    list_filter = ["status", "provider"]
    search_fields = ["public_id", "to_number", "provider_call_id"]
    list_select_related = ["organization"]
    show_full_result_count = False  # a COUNT(*) over millions of calls on every page is not worth it
    inlines = [CallEventInline]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Call._meta.fields]

    def has_add_permission(self, request):
        return False

