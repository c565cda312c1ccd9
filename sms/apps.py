from django.apps import AppConfig


class SmsConfig(AppConfig):
    name = "sms"
    verbose_name = "SMS and one-time passcodes"

    def ready(self) -> None:
        from config.delivery.channels import channel_register
        from sms.channel import sms_channel

        channel_register(sms_channel)
