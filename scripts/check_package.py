"""Build the distribution and prove the wheel works on its own.

1. Build the wheel and sdist from a clean copy of the tree.
2. Check that every template, static file, migration, client template and ``py.typed`` under
   ``src/`` is in the wheel, and that the sdist carries the sources and tests.
3. Install the wheel in a new virtual environment, import every app, and migrate a minimal host
   project that installs only ``quickscale.credits``.

Usage: ``python scripts/check_package.py`` (the ``package`` tox env runs it).
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import tempfile
import textwrap
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ["core", "credits", "services", "apikeys", "billing", "audit", "api"]


def run(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    print("$", " ".join(str(a) for a in args), flush=True)
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        sys.exit(f"command failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result.stdout


def expected_package_data() -> set[str]:
    """Non-Python files and migrations that must ship inside the wheel."""
    src = ROOT / "src"
    wanted = set()
    for path in (src / "quickscale").rglob("*"):
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        relative = path.relative_to(src).as_posix()
        if (
            "/templates/" in relative
            or "/static/" in relative
            or "/migrations/" in relative
            or path.suffix == ".jinja"  # the client templates (quickscale.api.client_templates)
            or path.name == "py.typed"
        ):
            wanted.add(relative)
    return wanted


def check_wheel(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = expected_package_data() - names
    if missing:
        sys.exit(f"{wheel.name} lacks: {sorted(missing)}")
    for app in APPS:
        for module in ("__init__.py", "apps.py", "conf.py", "checks.py"):
            if f"quickscale/{app}/{module}" not in names:
                sys.exit(f"{wheel.name} lacks quickscale/{app}/{module}")
    if any(name.startswith(("tests/", "example_project/")) for name in names):
        sys.exit(f"{wheel.name} ships tests or the example project")
    print(f"wheel: {len(names)} files, all templates, static files and migrations present")


def check_sdist(sdist: Path) -> None:
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for required in ("src/quickscale/__init__.py", "pyproject.toml", "LICENSE", "CHANGELOG.md"):
        if required not in names:
            sys.exit(f"{sdist.name} lacks {required}")
    print(f"sdist: {len(names)} files")


HOST_SETTINGS = """
SECRET_KEY = "package-check"
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "quickscale.credits",
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "host.sqlite3"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
"""


def check_installed(wheel: Path, work: Path) -> None:
    env_dir = work / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    run(python, "-m", "pip", "install", "--quiet", wheel)
    imports = ", ".join(f"quickscale.{app}.apps" for app in APPS)
    run(python, "-W", "error", "-c", f"import {imports}; print('imported', {imports!r})")
    host = work / "host"
    host.mkdir()
    (host / "host_settings.py").write_text(textwrap.dedent(HOST_SETTINGS))
    env = {"DJANGO_SETTINGS_MODULE": "host_settings", "PYTHONPATH": str(host), "PATH": "/usr/bin"}
    run(
        python, "-W", "error", "-m", "django", "check", "--fail-level", "WARNING", cwd=host, env=env
    )
    out = run(python, "-W", "error", "-m", "django", "migrate", "--noinput", cwd=host, env=env)
    print(out.strip().splitlines()[-1] if out.strip() else "migrated")
    print("installed wheel: every app imports; a credits-only host checks and migrates")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        dist = work / "dist"
        run(sys.executable, "-m", "build", "--outdir", dist, ROOT)
        wheel = next(dist.glob("*.whl"))
        sdist = next(dist.glob("*.tar.gz"))
        check_wheel(wheel)
        check_sdist(sdist)
        check_installed(wheel, work)
    print("package check passed")


if __name__ == "__main__":
    main()
