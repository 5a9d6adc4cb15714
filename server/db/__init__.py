"""Persistence for runs: typed tables, migrations, engine set-up and the repository functions routes call."""
