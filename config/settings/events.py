"""Delivery events: the SNS webhook, suppression rules, reputation protection and outbound webhooks."""

from config.env import env_bool, env_float, env_int, env_str

# SNS retries an HTTP/S delivery for at most an hour; anything older than that plus an hour is a replay.
SESAME_SNS_MAX_MESSAGE_AGE_SECONDS = env_int("SESAME_SNS_MAX_MESSAGE_AGE_SECONDS", 7200)
SESAME_SNS_MAX_BODY_BYTES = env_int("SESAME_SNS_MAX_BODY_BYTES", 1024 * 1024)
SESAME_SNS_CERT_CACHE_SIZE = env_int("SESAME_SNS_CERT_CACHE_SIZE", 32)
SESAME_SNS_CERT_CACHE_SECONDS = env_int("SESAME_SNS_CERT_CACHE_SECONDS", 24 * 3600)
SESAME_SNS_CERT_FAILURE_SECONDS = env_int("SESAME_SNS_CERT_FAILURE_SECONDS", 30)

# Transient bounces do not suppress an address, but this many within this many days do.
SESAME_TRANSIENT_BOUNCE_LIMIT = env_int("SESAME_TRANSIENT_BOUNCE_LIMIT", 3)
SESAME_TRANSIENT_BOUNCE_DAYS = env_int("SESAME_TRANSIENT_BOUNCE_DAYS", 7)
# How long an event whose SES message id matches no email yet keeps being matched by the sweep.
SESAME_ORPHAN_EVENT_DAYS = env_int("SESAME_ORPHAN_EVENT_DAYS", 7)
# Optional custom domain for SES's open and click tracking links (provisioned on the configuration set).
SESAME_TRACKING_REDIRECT_DOMAIN = env_str("SESAME_TRACKING_REDIRECT_DOMAIN")

# Reputation protection. Rates are bounces (hard) and complaints per recipient sent, over a sliding window.
SESAME_REPUTATION_WINDOW_HOURS = env_int("SESAME_REPUTATION_WINDOW_HOURS", 24)
SESAME_REPUTATION_MIN_SENDS = env_int("SESAME_REPUTATION_MIN_SENDS", 100)
SESAME_REPUTATION_BOUNCE_WARNING = env_float("SESAME_REPUTATION_BOUNCE_WARNING", 0.04)
SESAME_REPUTATION_BOUNCE_REVIEW = env_float("SESAME_REPUTATION_BOUNCE_REVIEW", 0.05)
SESAME_REPUTATION_COMPLAINT_WARNING = env_float("SESAME_REPUTATION_COMPLAINT_WARNING", 0.0008)
SESAME_REPUTATION_COMPLAINT_REVIEW = env_float("SESAME_REPUTATION_COMPLAINT_REVIEW", 0.001)
SESAME_REPUTATION_THROTTLE_FACTOR = env_float("SESAME_REPUTATION_THROTTLE_FACTOR", 0.5)
SESAME_REPUTATION_HEALTHY_MINUTES = env_int("SESAME_REPUTATION_HEALTHY_MINUTES", 60)
SESAME_REPUTATION_RESUME_STEP = env_float("SESAME_REPUTATION_RESUME_STEP", 0.25)
SESAME_REPUTATION_RESUME_STEP_MINUTES = env_int("SESAME_REPUTATION_RESUME_STEP_MINUTES", 15)
SESAME_REPUTATION_USE_CLOUDWATCH = env_bool("SESAME_REPUTATION_USE_CLOUDWATCH", True)
# Who tells account owners about a spike and the recovery: an operator's own Sesame account and sender.
SESAME_NOTIFY_ACCOUNT_ID = env_str("SESAME_NOTIFY_ACCOUNT_ID")
SESAME_NOTIFY_FROM = env_str("SESAME_NOTIFY_FROM")
SESAME_NOTIFY_CONFIG_IDENTIFIER = env_str("SESAME_NOTIFY_CONFIG_IDENTIFIER")

# Outbound webhooks to customers' endpoints.
SESAME_WEBHOOK_RETRY_HOURS = env_int("SESAME_WEBHOOK_RETRY_HOURS", 24)
SESAME_WEBHOOK_TIMEOUT_SECONDS = env_float("SESAME_WEBHOOK_TIMEOUT_SECONDS", 5.0)
# Per-account limits, so one account's endpoints cannot crowd out everyone else's deliveries.
SESAME_WEBHOOK_MAX_ENDPOINTS = env_int("SESAME_WEBHOOK_MAX_ENDPOINTS", 10)
SESAME_WEBHOOK_MAX_PENDING = env_int("SESAME_WEBHOOK_MAX_PENDING", 10_000)
# Attempts in flight at once: in all (threads of the delivery drain) and per account.
SESAME_WEBHOOK_CONCURRENCY = env_int("SESAME_WEBHOOK_CONCURRENCY", 32)
SESAME_WEBHOOK_ACCOUNT_CONCURRENCY = env_int("SESAME_WEBHOOK_ACCOUNT_CONCURRENCY", 8)
# A failing endpoint waits BASE, 2xBASE, 4xBASE ... up to MAX seconds between attempts, and is disabled (its owner
# told) once it has failed without a success for DISABLE_AFTER_HOURS.
SESAME_WEBHOOK_BACKOFF_BASE_SECONDS = env_int("SESAME_WEBHOOK_BACKOFF_BASE_SECONDS", 30)
SESAME_WEBHOOK_BACKOFF_MAX_SECONDS = env_int("SESAME_WEBHOOK_BACKOFF_MAX_SECONDS", 3600)
SESAME_WEBHOOK_DISABLE_AFTER_HOURS = env_int("SESAME_WEBHOOK_DISABLE_AFTER_HOURS", 24)
# Refuse endpoints that resolve to private, loopback or link-local addresses (SSRF); tests and labs may allow.
SESAME_WEBHOOK_ALLOW_PRIVATE_HOSTS = env_bool("SESAME_WEBHOOK_ALLOW_PRIVATE_HOSTS", False)

# Broadcasts: emails are rendered and queued this many at a time, and at most this many seconds of the connection's
# rate wait in the outbox at once (so transactional mail goes first, and a pause takes effect at once).
SESAME_BROADCAST_BATCH = env_int("SESAME_BROADCAST_BATCH", 500)
SESAME_BROADCAST_AHEAD_SECONDS = env_int("SESAME_BROADCAST_AHEAD_SECONDS", 20)
