"""QuickScale billing."""
