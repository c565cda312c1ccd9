from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Account
from accounts.selectors import aws_connection_for_account
from emails import services
from emails.transport import TransportError


class Command(BaseCommand):
    help = "Create an SES sender identity (domain or address) and print the DKIM CNAME records to publish."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("account_id")
        parser.add_argument("identity", help="example.com or sender@example.com")
        parser.add_argument("--connection", default=None, help="AWS connection identifier (default: the default).")

    def handle(self, *args: Any, **options: Any) -> None:
        account = Account.objects.filter(pk=options["account_id"]).first() if _is_uuid(options["account_id"]) else None
        if account is None:
            raise CommandError(f"No account with id {options['account_id']!r}.")
        connection = aws_connection_for_account(account=account, identifier=options["connection"])
        if connection is None:
            wanted = options["connection"] or "(default)"
            raise CommandError(f"Account {account.name!r} has no AWS connection {wanted}.")
        try:
            identity = services.identity_add(connection=connection, name=options["identity"])
        except TransportError as exc:
            raise CommandError(f"SES refused the identity: {exc.reason}") from exc
        self.stdout.write(f"{identity.name} ({identity.kind}) on {connection.identifier}: {identity.status}")
        if identity.dkim_records:
            self.stdout.write("Publish these DNS records:")
            for name, kind, value in identity.dkim_records:
                self.stdout.write(f"  {name}  {kind}  {value}")
        elif identity.kind == identity.Kind.ADDRESS and identity.status != identity.Status.VERIFIED:
            self.stdout.write("SES sent a verification link to that address; click it to finish.")


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
