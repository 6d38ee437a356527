"""Settings projects that install a subset of the suite.

Each module installs one combination of apps so the tests can prove that every app works alone
with only the apps it depends on, and that a missing dependency is reported by a system check.
"""
