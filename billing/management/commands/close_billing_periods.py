from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from billing import services


class Command(BaseCommand):
    help = (
        "Close every billing period that has ended: issue its invoice and open the next period (or end a subscription "
        "set to cancel). Beat runs this every 5 minutes; running it again, or on several hosts, closes nothing twice."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="List the periods that would close; change nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["dry_run"]:
            due = services.periods_due(today=timezone.now().date())
            for period in due:
                lines = services.invoice_lines(
                    period=period, changes=services.period_changes(period), emails_used=period.emails_used
                )
                self.stdout.write(
                    f"would close {period.account} {period.starts_on}..{period.ends_on}: {period.emails_used} emails, "
                    f"invoice total {services.lines_total(lines)} USD"
                )
            self.stdout.write(f"{len(due)} period(s) would close.")
            return
        invoices = services.periods_close_due()
        for invoice in invoices:
            self.stdout.write(f"issued {invoice.number} to {invoice.account_id}: {invoice.total} {invoice.currency}")
        self.stdout.write(f"{len(invoices)} period(s) closed.")
