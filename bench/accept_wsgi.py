"""Sesame's WSGI application with the minimal accept views beside it (bench/minimal_accept.py): one gunicorn
serves both, so they share workers, database and machine, and are measured one after the other."""

from django.conf import settings

from config.wsgi import application

settings.ROOT_URLCONF = "bench.minimal_accept"

__all__ = ["application"]
