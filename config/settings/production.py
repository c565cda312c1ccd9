"""Production: the same settings as base, with the environment switch forced so the start-up checks are strict."""

import os

os.environ.setdefault("SESAME_ENV", "production")

from config.settings.base import *  # noqa: F403
