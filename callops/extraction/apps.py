from django.apps import AppConfig


class ExtractionConfig(AppConfig):
    name = "callops.extraction"
    label = "extraction"
