"""Shared plumbing for the quickscale apps: errors, dependency checks and the tasks shim.

Every other quickscale app may import from here whether or not ``quickscale.core`` is in
``INSTALLED_APPS``; installing it adds its own settings checks.
"""
