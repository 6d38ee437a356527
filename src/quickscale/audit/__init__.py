"""QuickScale audit log."""
