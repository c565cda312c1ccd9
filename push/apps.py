from django.apps import AppConfig


class PushConfig(AppConfig):
    name = "push"

    def ready(self) -> None:
        from config.delivery.channels import channel_register
        from push.channel import push_channel

        channel_register(push_channel)
