"""Maintenance scripts (sample data builder). Importable so tests can call their pure cores."""
