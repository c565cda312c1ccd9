"""Sign-up forms: an embeddable popup or inline form (one script tag) that collects addresses with double opt-in.

models: the form and its sign-ups; services: create and change forms, store a sign-up with its confirmation email,
confirm it; validation: the rules of a form's settings (origins, fields, colours, verified sender); intake: taking a
posted sign-up (answers, honeypot, recipient policy); guard: rate limits, proof of work and the challenge hook;
views: the public script, endpoint and confirmation page; api and admin: the account's doors.
"""
