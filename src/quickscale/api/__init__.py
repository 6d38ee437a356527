"""QuickScale API."""
