"""docs/quickstart.md, run as written against the built wheel in a fresh virtual environment,
then every page of each app alone and of each documented combination rendered in that project.

One wheel build and one virtual environment serve the whole module. The page's blocks run in
order in one shell, from an empty directory, with the environment's ``bin`` first on ``PATH``:

- a ``console`` block's ``$`` lines are run verbatim; the lines after one are its expected
  output (compared as JSON), and ``runserver`` is started in the background until the end;
- a ``{code-block} python`` block with ``:caption: <path> (…)`` is added at the end of that
  file (or creates it).

The one substitution is the server's address, ``127.0.0.1:8000``, replaced by a free port so
the test never meets another server on the machine; the server is stopped at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import django
import pytest

from tests.servers import free_port
from tests.test_app_combinations import ADMIN_MODELS, COMPLETE_PROJECTS, PAGES

ROOT = Path(__file__).resolve().parent.parent
QUICKSTART = ROOT / "docs" / "quickstart.md"
ADDRESS = "127.0.0.1:8000"

_FENCE = re.compile(r"^```(?P<info>[^\n]*)\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL)
_CAPTION = re.compile(r"^:caption:\s*(?P<path>\S+)")


@dataclass
class Command:
    """A ``$`` line of a console block and the output the page shows under it."""

    line: str
    output: list[str] = field(default_factory=list)


@dataclass
class FileBlock:
    """A code block to add at the end of ``path`` (relative to the current directory)."""

    path: str
    code: str


def steps(markdown: str) -> list[Command | FileBlock]:
    """The page's runnable blocks, in order."""
    found: list[Command | FileBlock] = []
    for fence in _FENCE.finditer(markdown):
        info, body = fence["info"].strip(), fence["body"]
        if info == "console":
            for line in body.splitlines():
                if line.startswith("$ "):
                    found.append(Command(line[2:]))
                elif line.strip():
                    assert found and isinstance(found[-1], Command), line
                    found[-1].output.append(line)
        elif info == "{code-block} python":
            head, _, code = body.partition("\n\n")
            caption = _CAPTION.match(head.strip())
            assert caption is not None, f"a python block without a :caption: path:\n{body}"
            found.append(FileBlock(caption["path"], code))
    return found


def script(found: list[Command | FileBlock], out: Path, address: str) -> str:
    """One bash script running every step, each command's output in ``out/<n>.out``."""
    lines = ["set -u"]
    for number, step in enumerate(found):
        if isinstance(step, FileBlock):
            marker = f"QS_BLOCK_{number}"
            lines += [f"printf '\\n' >> {shlex.quote(step.path)}"]
            lines += [
                f"cat >> {shlex.quote(step.path)} <<'{marker}'",
                step.code.rstrip("\n"),
                marker,
            ]
            continue
        command = step.line.replace(ADDRESS, address)
        stdout, stderr = (shlex.quote(str(out / f"{number}.{kind}")) for kind in ("out", "err"))
        files = f"> {stdout} 2> {stderr}"
        if " runserver" in command:
            lines += [
                f"{{ {command} ; }} {files} &",
                f"for _ in $(seq 150); do curl --silent --output /dev/null http://{address}/ "
                "&& break; sleep 0.2; done",
            ]
            continue
        lines += [
            f'{{ {command} ; }} {files} || {{ echo "failed: {number}" >&2; exit 1; }}',
        ]
    return "\n".join(lines) + "\n"


@dataclass
class Fresh:
    """The fresh project: its directory, the environment's Python and the shell's env."""

    project: Path
    python: Path
    env: dict[str, str]
    out: Path
    found: list[Command | FileBlock]


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Fresh:
    """The wheel built, installed in a new virtual environment, and the quickstart run there."""
    # `uv run` names itself in UV; else the uv on the PATH.
    uv = os.environ.get("UV") or shutil.which("uv")
    assert uv, "uv builds the wheel and installs it: run the suite with `uv run pytest`"
    base = tmp_path_factory.mktemp("quickstart")
    dist, venv, work, out = base / "dist", base / "venv", base / "work", base / "out"
    for directory in (work, out):
        directory.mkdir()
    build = [uv, "build", "--wheel", "--out-dir", str(dist), str(ROOT)]
    subprocess.run(build, check=True, capture_output=True, timeout=300)
    (wheel,) = dist.glob("django_quickscale-*.whl")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    # With the extras billing (stripe) and the API (api: jsonschema) need (docs/installation.md).
    install = [uv, "pip", "install", "--python", str(python), f"{wheel}[stripe,api]"]
    install.append(f"django=={django.get_version()}")
    subprocess.run(install, check=True, capture_output=True, timeout=300)

    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "VIRTUAL_ENV", "PYTHON", "UV_", "DATABASE_URL"))
    }
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"
    env["VIRTUAL_ENV"] = str(venv)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INDEX"] = "1"  # the page's `pip install` finds the wheel installed already
    found = steps(QUICKSTART.read_text())
    address = f"127.0.0.1:{free_port()}"
    (base / "quickstart.sh").write_text(script(found, out, address))
    # In a session of its own, so the server it leaves running (and the autoreloader's child)
    # is stopped with its process group.
    shell = subprocess.Popen(
        ["bash", str(base / "quickstart.sh")],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _, stderr = shell.communicate(timeout=600)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(shell.pid, signal.SIGTERM)
        shell.wait()
    logs = "\n".join(f"--- {path.name}\n{path.read_text()}" for path in sorted(out.glob("*.err")))
    assert shell.returncode == 0, stderr + logs
    return Fresh(work / "mysite", python, env, out, found)


def test_the_quickstart_runs_as_written_and_its_views_answer_with_the_key(fresh: Fresh) -> None:
    commands = [(n, s) for n, s in enumerate(fresh.found) if isinstance(s, Command)]
    assert any("startproject" in step.line for _, step in commands)
    shown = [(n, step) for n, step in commands if step.output]
    # The two views answer the key (sync and async, outside the key middleware's prefixes),
    # and a request without one is refused: each as the page shows it.
    assert len(shown) == 3
    for number, step in shown:
        answer = (fresh.out / f"{number}.out").read_text()
        assert json.loads(answer) == json.loads("\n".join(step.output)), (step.line, answer)
    assert {"/report/", "/report/async/"} <= {step.line.rsplit(ADDRESS, 1)[-1] for _, step in shown}


KEYS_PAGE = """
import django
from django.test import Client
from django.test.utils import setup_test_environment

django.setup()
setup_test_environment()
from django.contrib.auth import get_user_model

client = Client()
client.force_login(get_user_model().objects.get(username="alice"))
response = client.get("/users/api-keys/")
print(response.status_code)
print(response.content.decode())
"""


def test_the_keys_page_of_the_quickstart_project_renders_in_its_layout(fresh: Fresh) -> None:
    result = subprocess.run(
        [str(fresh.python), "-c", KEYS_PAGE],
        cwd=fresh.project,
        env={**fresh.env, "DJANGO_SETTINGS_MODULE": "mysite.settings"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    status, _, body = result.stdout.partition("\n")
    assert status == "200", body[:2000]
    assert "Keys let your own code call the API" in body
    assert 'class="qs-page"' in body  # quickscale.core's layout
    assert "Reports" in body  # the key the quickstart made


#: The combinations the docs name, as tests/projects has them: each app alone with the apps it
#: needs, the quickstart's and all of them.
DOCUMENTED = [
    "core_only",
    "credits_only",
    "services_only",
    "apikeys_only",
    "billing_only",
    "audit_only",
    "api_only",
    "credits_apikeys",
    "all_apps",
]

#: The API's answers differ in the fresh project, which defines no service to run.
NO_SERVICES = {
    "quickscale_api:services": (200, '"data": []', None),
    "quickscale_api:create-run": (404, '"code": "service_not_found"', None),
    "quickscale_api:runs": (200, '"data": []', None),
    "quickscale_api:run": (404, '"code": "not_found"', None),
    "quickscale_api:usage": (200, '"data": []', None),
    "quickscale_api:balance": (200, '"balance": "100.00"', None),
    "quickscale_api:transactions": (200, '"reason": "Welcome"', None),
}

COMBINATION_SETTINGS = """from mysite.settings import *  # noqa: F403

INSTALLED_APPS = [app for app in INSTALLED_APPS if not app.startswith("quickscale.")]
INSTALLED_APPS += {apps!r}
if "quickscale.apikeys" in INSTALLED_APPS:
    MIDDLEWARE.insert(
        MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
        "quickscale.apikeys.middleware.APIKeyAuthenticationMiddleware",
    )
DATABASES = {{
    "default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "{name}.db"}}
}}
ROOT_URLCONF = "tests.projects.urls"
"""


@pytest.mark.parametrize("project", DOCUMENTED)
def test_every_page_of_a_documented_combination_renders_in_the_fresh_project(
    fresh: Fresh, project: str
) -> None:
    # The pages script and URLconf of tests/projects, copied into the fresh project.
    package = fresh.project / "tests" / "projects"
    if not package.exists():
        package.mkdir(parents=True)
        (package.parent / "__init__.py").write_text("")
        for name in ("__init__.py", "exercise.py", "pages.py", "urls.py"):
            shutil.copy(ROOT / "tests" / "projects" / name, package / name)
    labels = COMPLETE_PROJECTS[project]
    apps = ["quickscale." + label.removeprefix("quickscale_") for label in labels]
    settings = fresh.project / "mysite" / f"combination_{project}.py"
    settings.write_text(COMBINATION_SETTINGS.format(apps=apps, name=project))
    env = {**fresh.env, "DJANGO_SETTINGS_MODULE": f"mysite.combination_{project}"}
    result = subprocess.run(
        [str(fresh.python), "-m", "tests.projects.exercise"],
        cwd=fresh.project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])

    installed = [label for label in report["installed"] if label.startswith("quickscale_")]
    assert installed == labels
    assert report["check"] == "passed", report["check_output"]
    assert report["unapplied"] == []
    assert report["unplanned"] == []
    assert set(report["pages"]) == {page for page in PAGES if page.split(":")[0] in labels}
    for page, response in report["pages"].items():
        status, text, template = NO_SERVICES.get(page, PAGES[page])
        assert (response["status"], page) == (status, page), response["body"][:2000]
        assert text in response["body"], (page, response["body"][:2000])
        if template is not None:
            assert {template, "quickscale/base.html"} <= set(response["templates"]), page
    for page, response in report["admin"].items():
        assert response["status"] == 200, (page, response["body"][:2000])
        assert response["expect"].lower() in response["body"].lower(), page
    for label in labels:
        for model in ADMIN_MODELS.get(label, []):
            assert f"admin:{label}_{model}_changelist" in report["admin"]
        if label in ADMIN_MODELS:
            assert f"admin:app_list:{label}" in report["admin"]
