"""Every contacts benchmark, in order, against the database sesame_bench_contacts (created if missing):

    python bench/contacts_all.py

1. bench/contacts_import.py    1M contacts x 3 tags from CSV vs a plain COPY (empties the contact tables first)
2. bench/contacts_segments.py  tag A and B and not C over 1M contacts with 5M tags (reloads its own data)
3. bench/contacts_events.py    POST /v1/events over HTTP (gunicorn), then timelines with 10M events
bench/contacts_tag_layout.py (the measurement behind tag_ids being an integer[]) runs separately.
"""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    for script in ("contacts_import.py", "contacts_segments.py", "contacts_events.py"):
        print(f"\n== {script}", flush=True)
        subprocess.run([sys.executable, "-u", str(HERE / script)], check=True)


if __name__ == "__main__":
    main()
