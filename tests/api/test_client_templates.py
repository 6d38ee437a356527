"""The templates for openapi-python-client (``quickscale.api.client_templates``), on a document
with a header of every type they know.

The contract tests (``test_contract.py``) use them on the API's own document; this one covers the
types that document does not have (number, boolean) and every way a header can be wrong.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from quickscale.api import client_templates
from tests.api.generated_client import generate_client, needs_generator

HEADERS = {
    "X-Count": {"required": True, "schema": {"type": "integer"}},
    "X-Ratio": {"schema": {"type": "number"}},
    "X-Flag": {"schema": {"type": "boolean"}},
    "X-Mode": {"required": True, "schema": {"type": "string", "enum": ["fast", "slow"]}},
    "X-Note": {"description": 'Any text, "quoted".', "schema": {"type": "string"}},
}
DOCUMENT = {
    "openapi": "3.1.0",
    "info": {"title": "Headers", "version": "1"},
    "paths": {
        "/things": {
            "get": {
                "operationId": "list_things",
                "tags": ["things"],
                "responses": {
                    "200": {"description": "OK", "headers": HEADERS},
                    "404": {"description": "Gone"},
                },
            }
        }
    },
}

SCRIPT = """
import json
from http import HTTPStatus

import httpx
from headers_client.api.things import HeaderError, ListThings200Headers
from headers_client.types import Response

def response(status, **headers):
    return Response(
        status_code=HTTPStatus(status), content=b"", headers=httpx.Headers(headers), parsed=None
    )

def read(status, **headers):
    try:
        found = ListThings200Headers.from_response(response(status, **headers))
    except HeaderError as error:
        return ["HeaderError", str(error)]
    return [found.x_count, found.x_ratio, found.x_flag, found.x_mode, found.x_note]

print(json.dumps({
    "all": read(200, **{"X-Count": "3", "X-Ratio": "0.5", "X-Flag": "true", "X-Mode": "slow",
                        "X-Note": "hi"}),
    "least": read(200, **{"x-count": "0", "x-mode": "fast"}),
    "false": read(200, **{"X-Count": "1", "X-Mode": "fast", "X-Flag": "false"}),
    "no_count": read(200, **{"X-Mode": "fast"}),
    "bad_count": read(200, **{"X-Count": "three", "X-Mode": "fast"}),
    "bad_ratio": read(200, **{"X-Count": "1", "X-Mode": "fast", "X-Ratio": "half"}),
    "bad_flag": read(200, **{"X-Count": "1", "X-Mode": "fast", "X-Flag": "yes"}),
    "bad_mode": read(200, **{"X-Count": "1", "X-Mode": "medium"}),
    "status": read(404, **{"X-Count": "1", "X-Mode": "fast"}),
    "annotations": {
        name: str(kind) for name, kind in ListThings200Headers.__annotations__.items()
    },
    "no_404_class": not hasattr(
        __import__("headers_client.api.things", fromlist=["x"]), "ListThings404Headers"
    ),
}))
"""


@needs_generator
def test_each_header_type_is_read_and_checked(tmp_path: Path) -> None:
    (tmp_path / "document.json").write_text(json.dumps(DOCUMENT))
    generate_client(tmp_path, "headers_client", "--path", "document.json")
    (tmp_path / "use.py").write_text(textwrap.dedent(SCRIPT))
    ran = subprocess.run(
        [sys.executable, "use.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PYTHONPATH": str(tmp_path)},
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    seen = json.loads(ran.stdout)

    assert seen["all"] == [3, 0.5, True, "slow", "hi"]
    # Header names are case-insensitive; optional headers that are absent are None.
    assert seen["least"] == [0, None, None, "fast", None]
    assert seen["false"] == [1, None, False, "fast", None]
    assert seen["no_count"] == ["HeaderError", "the response has no X-Count header"]
    assert seen["bad_count"] == ["HeaderError", "X-Count is 'three', not an integer"]
    assert seen["bad_ratio"] == ["HeaderError", "X-Ratio is 'half', not a number"]
    assert seen["bad_flag"] == ["HeaderError", "X-Flag is 'yes', not true or false"]
    assert seen["bad_mode"] == [
        "HeaderError",
        "X-Mode is 'medium', not one of ('fast', 'slow')",
    ]
    assert seen["status"] == ["HeaderError", "the response is a 404, not a 200"]
    assert seen["annotations"] == {
        "x_count": "int",
        "x_ratio": "float | None",
        "x_flag": "bool | None",
        "x_mode": "Literal['fast', 'slow']",
        "x_note": "str | None",
    }
    # A response that declares no headers gets no class.
    assert seen["no_404_class"] is True


def test_the_module_prints_the_directory_it_names() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "quickscale.api.client_templates"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert Path(printed.stdout.strip()) == client_templates.PATH
    assert (client_templates.PATH / "endpoint_init.py.jinja").is_file()
