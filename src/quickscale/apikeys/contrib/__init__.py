"""Adapters for API frameworks: ``drf`` (Django REST framework) and ``ninja`` (django-ninja).
Each imports its framework, so import only the one you use."""
