from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and access"

    def ready(self) -> None:
        from accounts.models import Account, ApiToken, AwsConnection
        from accounts.tenant_cache import tenant_track

        tenant_track(Account, account_of=lambda account: [account.pk])
        tenant_track(ApiToken, account_of=lambda token: [token.account_id])
        tenant_track(AwsConnection, account_of=lambda connection: [connection.account_id])
