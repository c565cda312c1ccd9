import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent.parent
# Everything the embedded default writes (SQLite file, broker spool, dev keys, simulator outbox) lives here.
VAR_DIR = Path(os.environ.get("SESAME_VAR_DIR") or BASE_DIR / "var").resolve()
