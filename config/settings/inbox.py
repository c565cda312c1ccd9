"""The team inbox: limits on received mail."""

from config.env import env_int

# Larger received messages are recorded (sender, subject, SES's verdicts) with an error, and not read. SES itself
# takes at most 40 MB through an S3 action and 150 KB through an SNS action.
SESAME_INBOX_MAX_MESSAGE_BYTES = env_int("SESAME_INBOX_MAX_MESSAGE_BYTES", 40 * 1024 * 1024)
# An attachment or inline image larger than this is listed (name, type, size) but its content is not kept.
SESAME_INBOX_MAX_ATTACHMENT_BYTES = env_int("SESAME_INBOX_MAX_ATTACHMENT_BYTES", 10 * 1024 * 1024)
