"""The payer's settings publisher (issue 23, docs/settings.md)."""
