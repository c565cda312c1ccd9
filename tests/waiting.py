"""Waiting on real processes (Celery workers, beat) without sleeping longer than needed."""

import time
from collections.abc import Callable
from pathlib import Path


def wait_for(condition: Callable[[], object], timeout: float = 20.0, step: float = 0.05) -> bool:
    """Poll `condition` until it is truthy (True) or `timeout` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return False


def beat_ticking(tmp_path: Path) -> bool:
    """The `celery_beat` fixture's beat has sent the delivery engine's tick at least once."""
    log = tmp_path / "beat.log"
    return log.exists() and "Sending due task delivery.tick" in log.read_text()
