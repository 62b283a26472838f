from django.apps import AppConfig


class RulesConfig(AppConfig):
    name = "callops.rules"
    label = "rules"
    verbose_name = "Calling rules"
