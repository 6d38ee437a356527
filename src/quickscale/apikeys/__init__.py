"""QuickScale API keys."""
