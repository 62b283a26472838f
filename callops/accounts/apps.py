from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "callops.accounts"
    label = "accounts"

    def ready(self):
        from django.db.models.signals import post_delete

        # In ready(), not at the top: models may be imported only once the app registry is loaded.
        from . import keycache
        from .models import ApiKey

        # A key deleted outright (from the admin, or with its organization) must stop working on
        # the next request, exactly like a revoked one.
        post_delete.connect(keycache.forget_deleted, sender=ApiKey, dispatch_uid="apikey-cache")
