from django.contrib import admin

from . import services
from .models import ApiKey, AuditEntry, Membership, Organization


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "public_id", "created_at"]
    search_fields = ["name"]
    inlines = [MembershipInline]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "organization", "prefix", "scope", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["scope"]
    # The digest is useless to an attacker without the secret, but there is no reason to show it.
    exclude = ["digest"]
    readonly_fields = ["organization", "prefix", "scope", "created_by", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        # A key is only useful with its secret, which exists once, at creation: keys are made in
        # the dashboard or with `manage.py createapikey`, never here.
        return False

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset):
        for key in queryset.filter(revoked_at__isnull=True):
            services.revoke_api_key(key, actor=request.user, ip=services.client_ip(request))


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "organization", "actor_label", "action", "target", "ip_address"]
    list_filter = ["action"]
