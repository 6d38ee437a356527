"""Templates that add typed response headers to a client made by openapi-python-client.

openapi-python-client turns the document's bodies into typed models but leaves response headers
as a plain mapping (``Response.headers``). Given this directory as ``--custom-template-path``,
each tag package's ``__init__.py`` (``<client>/api/<tag>/__init__.py``) gains, for every
response of a fixed status whose document declares headers, a class
``<Operation><status>Headers`` with one typed attribute per header and ``from_response()`` to
read them::

    openapi-python-client generate --url https://example.com/api/v1/openapi.json \\
        --custom-template-path "$(python -m quickscale.api.client_templates)"

Only that one template is replaced, and it is ours; every other file is generated as usual.
Written for, and tested with, openapi-python-client 0.29.
"""

from __future__ import annotations

from pathlib import Path

#: The directory to pass as ``--custom-template-path``.
PATH = Path(__file__).resolve().parent
