from django.apps import AppConfig


class BatchesConfig(AppConfig):
    name = "callops.batches"
    label = "batches"
