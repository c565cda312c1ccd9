from accounts.models import Account, ApiToken, AwsConnection
from accounts.tokens import TOKEN_PREFIX, hash_token


def api_token_for_plaintext(*, plaintext: str) -> ApiToken | None:
    """The live token for this plaintext, with its account and plan loaded, or None."""
    if not plaintext.startswith(TOKEN_PREFIX):
        return None
    return ApiToken.objects.select_related("account", "account__plan").filter(token_hash=hash_token(plaintext)).first()


def aws_connection_for_account(*, account: Account, identifier: str | None) -> AwsConnection | None:
    """The connection a send should use: the named one, or the account's default."""
    connections = AwsConnection.objects.filter(account=account)
    if identifier:
        return connections.filter(identifier=identifier).first()
    return connections.filter(is_default=True).first()
