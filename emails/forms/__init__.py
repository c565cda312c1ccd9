"""Sign-up forms: an embeddable popup or inline form (one script tag) that collects addresses with double opt-in.

models: the form and its sign-up requests; services: create and change forms, take a sign-up, confirm it;
guard: the public endpoint's checks (origins, honeypot, rate limits, proof of work); views: the public script,
submit and confirm pages; api and admin: the account's doors.
"""
