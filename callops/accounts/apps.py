from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "callops.accounts"
    label = "accounts"

