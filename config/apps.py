from django.apps import AppConfig


class ConfigConfig(AppConfig):
    """Project-wide pieces that belong to no domain: start-up checks, health, API conventions, `up`."""

    name = "config"
    verbose_name = "Sesame"

    def ready(self) -> None:
        from django.db.models import JSONField

        from config import checks  # noqa: F401  (registers the system checks)
        from config.lookups import JsonArrayHasElement

        JSONField.register_lookup(JsonArrayHasElement)
