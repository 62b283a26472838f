"""Read-mostly admin views of webhook state for operators; secrets are never shown."""

from django.contrib import admin

from .models import Notification, RecoveryJob, WebhookAttempt, WebhookDelivery, WebhookEndpoint


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ["url", "organization", "enabled", "paused", "failing_since", "last_success_at", "created_at"]
    list_filter = ["enabled", "paused"]
    search_fields = ["url", "description"]
    exclude = ["secret_encrypted", "old_secrets"]
    readonly_fields = ["public_id", "failing_since", "last_success_at", "disabled_at", "created_at", "updated_at"]


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = ("number", "trigger", "created_at", "response_status", "duration_ms", "error_kind", "error")
    readonly_fields = fields


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["public_id", "organization", "url", "status", "attempt_count", "next_attempt_at", "created_at"]
    list_filter = ["status"]
    search_fields = ["url", "public_id"]
    raw_id_fields = ["event", "endpoint", "call"]
    readonly_fields = ["claimed_until", "claim_token"]
    inlines = [WebhookAttemptInline]


@admin.register(RecoveryJob)
class RecoveryJobAdmin(admin.ModelAdmin):
    list_display = ["public_id", "organization", "endpoint", "status", "done", "total", "created_at"]
    list_filter = ["status"]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "organization", "kind", "endpoint", "read"]
    list_filter = ["kind", "read"]
