#!/usr/bin/env python3
"""Django's command-line utility, plus a first-run bootstrap.

`python3 manage.py up` and `python3 manage.py runtests` work on a machine that has only Python 3.11+: when run
outside the project's virtualenv they create `.venv`, install Sesame into it (again whenever pyproject.toml
changes) and re-run themselves inside it.
"""

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BOOTSTRAP_EXTRAS = {"up": "", "runtests": "[dev]"}


def _venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _bootstrap(extras: str) -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 (manage.py may be started by an older python3)
        sys.exit(f"Sesame needs Python 3.11 or newer; this is {sys.version.split()[0]}.")
    python = _venv_python()
    if not python.exists():
        print(f"Creating {VENV} ...", flush=True)
        venv.create(VENV, with_pip=True)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extras.encode()).hexdigest()[:16]
    stamp = VENV / f".sesame-installed-{digest}"
    if not stamp.exists():
        print(f"Installing Sesame{extras} into {VENV} (first run only) ...", flush=True)
        pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
        subprocess.check_call([*pip, "-e", f"{ROOT}{extras}"], cwd=ROOT)  # noqa: S603
        stamp.touch()
    os.execv(python, [str(python), str(ROOT / "manage.py"), *sys.argv[1:]])  # noqa: S606


def main() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    in_project_venv = Path(sys.prefix).resolve() == VENV.resolve()
    if command in BOOTSTRAP_EXTRAS and not in_project_venv and not os.environ.get("SESAME_NO_BOOTSTRAP"):
        _bootstrap(BOOTSTRAP_EXTRAS[command])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    try:
        from django.core.management import execute_from_command_line
    except ImportError as exc:
        raise SystemExit(
            "Django is not installed here. Run `python3 manage.py up` once (it installs into .venv), "
            "then use .venv/bin/python manage.py ..."
        ) from exc
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
