"""The team inbox: mail received through SES, threaded into conversations, read and answered by the team.

Inbound mail arrives through the events app's verified SNS webhook, which hands SES "Received" notifications to
`emails.inbox.services.inbound_receive`. Replies leave as ordinary emails of the delivery engine (priority 1).
"""
