from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"

    def ready(self) -> None:
        from contacts.hooks import contact_listener_register
        from events import checks  # noqa: F401  (registers the system checks)
        from events.automations.enrolment import AutomationListener

        # Automations enrol where contacts write tags, events and new contacts, in the same transaction.
        contact_listener_register(AutomationListener())
