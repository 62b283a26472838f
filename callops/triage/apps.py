from django.apps import AppConfig


class TriageConfig(AppConfig):
    name = "callops.triage"
    label = "triage"
