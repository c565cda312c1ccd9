import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

application = get_wsgi_application()

# What is loaded now lives as long as the process. Frozen, it is left out of every garbage collection, which
# otherwise walks all of Django's and the apps' objects each time a request's allocations trigger a full one
# (about a sixth of the CPU of a 500-email batch accept). The URL modules are imported first so they count.
get_resolver().url_patterns  # noqa: B018 (imports every view module)
gc.freeze()
