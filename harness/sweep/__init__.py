"""Nightly compatibility sweeps: published releases, verified in today's environments, and
compared with the previous sweep (the diff is the product).

Modules: releases (which releases, from a PEP 691/503 index), identity (what an env is
tonight; --refresh against its Debian suite), history (SQLite | S3), diff, render (the
sweep's summary.md and report.html), run (one sweep), cli (`harness sweep`), history_cli
(`harness history`)."""
