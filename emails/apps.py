from django.apps import AppConfig


class EmailsConfig(AppConfig):
    name = "emails"

    def ready(self) -> None:
        from config.delivery.channels import channel_register
        from emails.channel import email_channel

        channel_register(email_channel)
