"""QuickScale services."""
