import re
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing import selectors, services


class Command(BaseCommand):
    help = (
        "One line per billing period that starts in the month: account, plan, emails used of included, SMS and push "
        "sent, and the invoice (its number, status and total; or the projected total of a period still open)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--period", required=True, help="The month, as YYYY-MM.")

    def handle(self, *args: Any, **options: Any) -> None:
        match = re.fullmatch(r"(\d{4})-(\d{2})", options["period"])
        if not match or not 1 <= int(match[2]) <= 12:
            raise CommandError(f"--period must be a month as YYYY-MM, e.g. 2026-04; got {options['period']!r}.")
        periods = selectors.periods_for_month(year=int(match[1]), month=int(match[2]))
        total = Decimal("0.00")
        self.stdout.write("account\tplan\tperiod\temails used/included\tsms\tpush\tinvoice\tstatus\ttotal")
        for period in periods:
            invoice = getattr(period, "invoice", None)
            if invoice is not None:
                number, status, amount = invoice.number or "draft", invoice.status, invoice.total
            else:
                lines = services.invoice_lines(
                    period=period, changes=services.period_changes(period), emails_used=period.emails_used
                )
                number, status, amount = "-", "projected", services.lines_total(lines)
            if status != "void":
                total += amount
            self.stdout.write(
                f"{period.account.name}\t{period.subscription.plan.slug}\t{period.starts_on}..{period.ends_on}\t"
                f"{period.emails_used}/{period.included_emails}\t{period.sms_sent}\t{period.push_sent}\t"
                f"{number}\t{status}\t{amount}"
            )
        self.stdout.write(f"{len(periods)} period(s); total {total} USD (void invoices not counted)")
