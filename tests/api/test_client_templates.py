"""The templates for openapi-python-client (``quickscale.api.client_templates``), on a document
with a header of every kind they handle.

The contract tests (``test_contract.py``) use them on the API's own document; this one covers
what that document does not have: numbers, booleans, integer enums, ``const``, ``null`` in a
list of types, a ``$ref``, names that come out the same, an operation whose name is one the
module could shadow (``cast``), responses by range and ``default``, and every way a header can
be wrong.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from quickscale.api import client_templates
from tests.api.generated_client import generate_client, needs_generator, type_check

HEADERS = {
    "X-Count": {"required": True, "schema": {"type": "integer"}},
    "X-Ratio": {"schema": {"type": "number"}},
    "X-Flag": {"description": 'Ends in a "quote"', "schema": {"type": "boolean"}},
    "X-Mode": {"required": True, "schema": {"type": "string", "enum": ["fast", "slow"]}},
    "X-Level": {"schema": {"enum": [1, 2]}},
    "X-Const": {"schema": {"const": "yes"}},
    "X-Note": {"schema": {"type": ["string", "null"]}},
    "X-Size": {"schema": {"type": ["integer", "null"]}},
    "x_count": {"schema": {"type": "string"}},
    "From-Response": {"schema": {"type": "string"}},
    "X-Shared": {"$ref": "#/components/headers/Shared"},
    "X-Tone": {"schema": {"enum": ["low", None]}},
    "X-Count-14": {"schema": {"type": "string"}},
    "x.count": {"schema": {"type": "string"}},
}
DOCUMENT = {
    "openapi": "3.1.0",
    "info": {"title": "Headers", "version": "1"},
    "components": {"headers": {"Shared": {"schema": {"type": "integer"}}}},
    "paths": {
        "/things": {
            "get": {
                "operationId": "cast",
                "tags": ["things"],
                "responses": {
                    "200": {"description": "OK", "headers": HEADERS},
                    "404": {"description": "Gone"},
                    "4XX": {"description": "Refused", "headers": {"X-A": {"schema": {}}}},
                    "default": {"description": "Other", "headers": {"X-B": {"schema": {}}}},
                },
            }
        }
    },
}
FIELDS = [
    "x_count",
    "x_ratio",
    "x_flag",
    "x_mode",
    "x_level",
    "x_const",
    "x_note",
    "x_size",
    "x_count_9",
    "from_response_10",
    "x_shared",
    "x_tone",
    "x_count_14",
    "x_count_14_2",
]

SCRIPT = """
import json
from http import HTTPStatus

import httpx
import headers_client.api.things as things
from headers_client.api.things import Cast200Headers, HeaderError
from headers_client.api.things import cast as operation
from headers_client.types import Response

FIELDS = %(fields)r

def read_exactly(status, headers):
    sent = httpx.Headers({name: value for name, value in headers.items() if value is not None})
    response = Response(status_code=HTTPStatus(status), content=b"", headers=sent, parsed=None)
    try:
        found = Cast200Headers.from_response(response)
    except HeaderError as error:
        return ["HeaderError", str(error)]
    return {name: getattr(found, name) for name in FIELDS if getattr(found, name) is not None}

def read(status=200, **headers):
    # The required headers, with ``headers`` added or replacing them (None: left out).
    return read_exactly(status, {"X-Count": "1", "X-Mode": "fast", **headers})

print(json.dumps({
    "all": read(**{
        "X-Count": "3", "X-Ratio": "-0.5e1", "X-Flag": "true", "X-Mode": "slow", "X-Level": "2",
        "X-Const": "yes", "X-Note": "hi", "X-Size": "-7", "x_count": "text",
        "From-Response": "here", "X-Shared": "text, as a $ref is", "X-Tone": "low",
        "X-Count-14": "fourteen", "x.count": "dotted",
    }),
    "least": read_exactly(200, {"x-count": "0", "x-mode": "fast"}),
    "false": read(**{"X-Flag": "false"}),
    "no_count": read(**{"X-Count": None}),
    "bad_count": [read(**{"X-Count": value}) for value in ("three", "+7", " 7", "1_0")],
    "long_count": read(**{"X-Count": "9" * 5000}),
    "bad_ratio": [read(**{"X-Ratio": value}) for value in ("half", "nan", "inf")],
    "huge_ratio": read(**{"X-Ratio": "1e400"}),
    "bad_tone": read(**{"X-Tone": "null"}),
    "bad_flag": read(**{"X-Flag": "yes"}),
    "bad_mode": read(**{"X-Mode": "medium"}),
    "bad_level": read(**{"X-Level": "3"}),
    "bad_const": read(**{"X-Const": "no"}),
    "status": read(404),
    "annotations": {name: str(kind) for name, kind in Cast200Headers.__annotations__.items()},
    "classes": sorted(name for name in vars(things) if name.endswith("Headers")),
    "operation": [operation.__name__, things.cast is operation],
}))
"""


#: What mypy must infer for the headers; the last line is wrong on purpose (mypy must say so).
TYPES = """
from typing import Literal, assert_type

from headers_client.api.things import Cast200Headers

def check(headers: Cast200Headers) -> None:
    assert_type(headers.x_count, int)
    assert_type(headers.x_ratio, float | None)
    assert_type(headers.x_flag, bool | None)
    assert_type(headers.x_mode, Literal["fast", "slow"])
    assert_type(headers.x_level, Literal[1, 2] | None)
    assert_type(headers.x_const, Literal["yes"] | None)
    assert_type(headers.x_size, int | None)
    assert_type(headers.x_tone, Literal["low"] | None)
    assert_type(headers.x_shared, str | None)
    assert_type(headers.x_count_14_2, str | None)
    assert_type(headers.x_count, str)  # wrong
"""


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory with ``headers_client``, generated from ``DOCUMENT``."""
    workdir = tmp_path_factory.mktemp("headers")
    (workdir / "document.json").write_text(json.dumps(DOCUMENT))
    generate_client(workdir, "headers_client", "--path", "document.json")
    return workdir


@needs_generator
def test_strict_mypy_accepts_the_generated_headers_and_infers_their_types(client: Path) -> None:
    source = textwrap.dedent(TYPES)
    (client / "types_check.py").write_text(source)
    wrong = source.splitlines().index("    assert_type(headers.x_count, str)  # wrong") + 1
    typed = type_check(client, "headers_client", "types_check.py")
    errors = [line for line in typed.stdout.splitlines() if ": error:" in line]
    # One error, on the line that is wrong on purpose; none in the generated client.
    assert len(errors) == 1, typed.stdout + typed.stderr
    expected = f'types_check.py:{wrong}: error: Expression is of type "int", not "str"'
    assert errors[0].startswith(expected)


@needs_generator
def test_each_header_kind_is_typed_read_and_checked(client: Path) -> None:
    (client / "use.py").write_text(textwrap.dedent(SCRIPT) % {"fields": FIELDS})
    ran = subprocess.run(
        [sys.executable, "use.py"],
        cwd=client,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PYTHONPATH": str(client)},
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    seen = json.loads(ran.stdout)

    assert seen["all"] == {
        "x_count": 3,
        "x_ratio": -5.0,
        "x_flag": True,
        "x_mode": "slow",
        "x_level": 2,
        "x_const": "yes",
        "x_note": "hi",
        "x_size": -7,
        "x_count_9": "text",
        "from_response_10": "here",
        "x_shared": "text, as a $ref is",
        "x_tone": "low",
        "x_count_14": "fourteen",
        "x_count_14_2": "dotted",
    }
    # Header names are case-insensitive; optional headers that are absent are None.
    assert seen["least"] == {"x_count": 0, "x_mode": "fast"}
    assert seen["false"] == {"x_count": 1, "x_mode": "fast", "x_flag": False}
    assert seen["no_count"] == ["HeaderError", "the response has no X-Count header"]
    assert seen["bad_count"] == [
        ["HeaderError", f"X-Count is {value!r}, not an integer"]
        for value in ("three", "+7", " 7", "1_0")
    ]
    assert seen["long_count"] == ["HeaderError", "X-Count has 5000 characters, too long an integer"]
    assert seen["bad_ratio"] == [
        ["HeaderError", f"X-Ratio is {value!r}, not a number"] for value in ("half", "nan", "inf")
    ]
    assert seen["huge_ratio"] == ["HeaderError", "X-Ratio is '1e400', too large a number"]
    assert seen["bad_tone"] == ["HeaderError", "X-Tone is 'null', not one of ('low',)"]
    assert seen["bad_flag"] == ["HeaderError", "X-Flag is 'yes', not true or false"]
    assert seen["bad_mode"] == ["HeaderError", "X-Mode is 'medium', not one of ('fast', 'slow')"]
    assert seen["bad_level"] == ["HeaderError", "X-Level is 3, not one of (1, 2)"]
    assert seen["bad_const"] == ["HeaderError", "X-Const is 'no', not one of ('yes',)"]
    assert seen["status"] == ["HeaderError", "the response is a 404, not a 200"]
    assert list(seen["annotations"]) == FIELDS
    assert seen["annotations"] == {
        "x_count": "<class 'int'>",
        "x_ratio": "float | None",
        "x_flag": "bool | None",
        "x_mode": "typing.Literal['fast', 'slow']",
        "x_level": "typing.Optional[typing.Literal[1, 2]]",
        "x_const": "typing.Optional[typing.Literal['yes']]",
        "x_note": "str | None",
        "x_size": "int | None",
        "x_count_9": "str | None",
        "from_response_10": "str | None",
        "x_shared": "str | None",
        "x_tone": "typing.Optional[typing.Literal['low']]",
        "x_count_14": "str | None",
        "x_count_14_2": "str | None",
    }
    # Only a fixed status that declares headers gets a class: not 404 (none), 4XX or default.
    assert seen["classes"] == ["Cast200Headers"]
    # The module's own names shadow no operation: ``cast`` is the endpoint module.
    assert seen["operation"] == ["headers_client.api.things.cast", True]


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
