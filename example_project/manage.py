#!/usr/bin/env python
"""Command-line entry point of the example project.

Python puts this file's directory on ``sys.path``, so ``python example_project/manage.py`` works
from the repository root as well as from inside ``example_project/``.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
