"""django-quickscale: the parts every paid Django product needs."""

__version__ = "0.1.0.dev0"
