"""QuickScale credits."""
