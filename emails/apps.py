from django.apps import AppConfig


class EmailsConfig(AppConfig):
    name = "emails"

    def ready(self) -> None:
        from config.delivery.channels import channel_register
        from emails.channel import email_channel

        channel_register(email_channel)

        from accounts.tenant_cache import tenant_track
        from contacts.models import PreferenceSettings
        from emails.models import BlockedDomain, Identity

        # Accepting an email trusts the cached list of verified identities (emails/services/accept.py) and the
        # account's policy settings (emails/policy.py).
        tenant_track(Identity, account_of=lambda identity: [identity.account_id])
        tenant_track(BlockedDomain, account_of=lambda blocked: [blocked.account_id])
        tenant_track(PreferenceSettings, account_of=lambda settings: [settings.account_id])
