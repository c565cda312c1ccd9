"""manage.py provision_inbound ACCOUNT_ID DOMAIN: receive a domain's mail into the team inbox."""

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Account
from accounts.selectors import aws_connection_for_account
from emails.inbox.services import inbound_domain_provision


class Command(BaseCommand):
    help = (
        "Create or repair, idempotently, the SES receipt rule that brings a domain's mail to the team inbox (through "
        "the connection's SNS topic; run provision_connection first), and print the MX record to publish."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("account_id")
        parser.add_argument("domain", help="The domain whose mail Sesame receives, e.g. support.acme.test.")
        parser.add_argument("--connection", default=None, help="AWS connection identifier (default: the default).")
        parser.add_argument(
            "--bucket", default="", help="An S3 bucket for mail of any size (without one: SNS only, up to 150 KB)."
        )
        parser.add_argument(
            "--acknowledgement", default=None, help="Text that answers the first message of each new conversation."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            account = Account.objects.filter(pk=options["account_id"]).first()
        except ValidationError:
            account = None
        if account is None:
            raise CommandError(f"No account with id {options['account_id']!r}.")
        connection = aws_connection_for_account(account=account, identifier=options["connection"])
        if connection is None:
            raise CommandError(
                f"Account {account.name!r} has no AWS connection {options['connection'] or '(default)'}."
            )
        report = inbound_domain_provision(
            connection=connection,
            domain=options["domain"],
            bucket=options["bucket"],
            acknowledgement_text=options["acknowledgement"],
        )
        for line, (_, status, _) in zip(report.lines(), report.steps, strict=True):
            self.stdout.write(self.style.ERROR(line) if status == "failed" else self.style.SUCCESS(line))
        if not report.ok:
            raise CommandError("Some steps failed (see above); fix the cause and run this command again.")
