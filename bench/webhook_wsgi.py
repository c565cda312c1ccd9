"""The WSGI app the webhook bench serves: Sesame itself, with the SNS certificate fetch answered from a file.

The bench signs with a test certificate (SESAME_BENCH_SNS_CERT, a PEM path); everything else is production code.
"""

import os
from pathlib import Path

from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()

_PEM = Path(os.environ["SESAME_BENCH_SNS_CERT"]).read_bytes()


def _fetch(url: str) -> bytes:
    return _PEM


import events.sns  # noqa: E402  (after Django is set up)

events.sns.fetch_certificate_pem = _fetch
