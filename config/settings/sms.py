"""SMS over Amazon SNS and one-time passcodes (sms/)."""

import re
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ImproperlyConfigured

from config.env import env_float, env_int, env_str

# SNS's SMS transactions per second for a connection that has no rate of its own (SNS's default account quota).
SESAME_SMS_DEFAULT_RATE = env_float("SESAME_SMS_DEFAULT_RATE", 20.0)
# The country (ISO 3166 code) of an account that has not set one: its SMS and OTP allow-list starts with it alone.
SESAME_SMS_DEFAULT_COUNTRY = env_str("SESAME_SMS_DEFAULT_COUNTRY", "US").upper()
if not re.fullmatch(r"[A-Z]{2}", SESAME_SMS_DEFAULT_COUNTRY):
    raise ImproperlyConfigured(
        f"SESAME_SMS_DEFAULT_COUNTRY must be an ISO 3166 code such as US or GB, got {SESAME_SMS_DEFAULT_COUNTRY!r}"
    )
# Monthly SMS spend limit (USD) of an account that has not set one.
try:
    SESAME_SMS_DEFAULT_MONTHLY_LIMIT_USD = Decimal(env_str("SESAME_SMS_DEFAULT_MONTHLY_LIMIT_USD", "100.00"))
except InvalidOperation as exc:
    raise ImproperlyConfigured("SESAME_SMS_DEFAULT_MONTHLY_LIMIT_USD must be an amount in USD, e.g. 100.00") from exc
# How far back (seconds) each read of the delivery-status logs starts when it has no token to resume from: log
# events may arrive a little out of order, and each is ingested once whatever overlaps.
SESAME_SMS_LOG_OVERLAP_SECONDS = env_int("SESAME_SMS_LOG_OVERLAP_SECONDS", 300)
# Seconds the local SMS simulator waits before it reports a delivery status.
SESAME_SIMULATOR_SMS_STATUS_DELAY = env_float("SESAME_SIMULATOR_SMS_STATUS_DELAY", 1.0)

# One-time passcodes: checks and sends per verification, the wait between sends, and the fraud guards (sends per
# destination number, per account and per client IP in a rolling hour; the verify-to-send ratio under which a
# country is paused for an account, judged once it has at least OTP_RATIO_MIN_SENDS sends in the window).
SESAME_OTP_TTL_SECONDS = env_int("SESAME_OTP_TTL_SECONDS", 600)
SESAME_OTP_MAX_CHECKS = env_int("SESAME_OTP_MAX_CHECKS", 5)
SESAME_OTP_MAX_SENDS = env_int("SESAME_OTP_MAX_SENDS", 5)
SESAME_OTP_RESEND_COOLDOWN_SECONDS = env_int("SESAME_OTP_RESEND_COOLDOWN_SECONDS", 30)
SESAME_OTP_PER_NUMBER_PER_HOUR = env_int("SESAME_OTP_PER_NUMBER_PER_HOUR", 10)
SESAME_OTP_PER_ACCOUNT_PER_HOUR = env_int("SESAME_OTP_PER_ACCOUNT_PER_HOUR", 1000)
SESAME_OTP_PER_IP_PER_HOUR = env_int("SESAME_OTP_PER_IP_PER_HOUR", 50)
SESAME_OTP_RATIO_WINDOW_MINUTES = env_int("SESAME_OTP_RATIO_WINDOW_MINUTES", 60)
SESAME_OTP_RATIO_MIN_SENDS = env_int("SESAME_OTP_RATIO_MIN_SENDS", 50)
SESAME_OTP_RATIO_FLOOR = env_float("SESAME_OTP_RATIO_FLOOR", 0.2)
