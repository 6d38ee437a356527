"""A project whose database goes away: its pages, its settings, a server that runs it and a
throw-away PostgreSQL to stop under it."""
