"""Benchmarks of the bot (issue 6): reproducible figures, not timed tests."""
