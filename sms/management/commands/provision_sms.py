"""manage.py provision_sms ACCOUNT_ID IDENTIFIER [--role ARN] [--rate N]: SMS delivery status and rate for a
connection."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import AwsConnection
from config.delivery.errors import TransportError
from sms import services
from sms.services.delivery_status import DEFAULT_ROLE_NAME


class Command(BaseCommand):
    help = (
        "Have SNS log every SMS outcome to CloudWatch Logs (SetSMSAttributes DeliveryStatusIAMRole, 100% success "
        "sampling), check the SMS sandbox status, and optionally set the connection's SMS rate. Idempotent."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("account_id")
        parser.add_argument("identifier", help="The connection's identifier (config_identifier in the API).")
        parser.add_argument(
            "--role", default="", help=f"The IAM role SNS logs with (default: role/{DEFAULT_ROLE_NAME} of the account)."
        )
        parser.add_argument("--rate", type=float, help="SMS per second (your SNS account's SMS TPS quota).")

    def handle(self, *args: Any, **options: Any) -> None:
        connection = (
            AwsConnection.objects.select_related("account")
            .filter(account_id=options["account_id"], identifier=options["identifier"])
            .first()
        )
        if connection is None:
            raise CommandError(f"No AWS connection {options['identifier']!r} in account {options['account_id']}.")
        try:
            state = services.delivery_status_provision(connection=connection, role_arn=options["role"])
            in_sandbox = services.sandbox_status_refresh(connection=connection)
        except TransportError as error:
            raise CommandError(f"SNS refused: {error.reason}") from error
        if options["rate"] is not None:
            state.sms_rate = options["rate"]
            state.save(update_fields=["sms_rate"])
        self.stdout.write(
            self.style.SUCCESS(f"ok delivery status logging for {connection} (AWS {state.aws_account_id})")
        )
        self.stdout.write(f"{'warning' if in_sandbox else 'ok'} SMS sandbox: {'in' if in_sandbox else 'out of'} it")
        self.stdout.write(f"ok SMS rate: {services.sms_state_for(connection=connection).sms_rate or 'default'}")
