"""Pure renderers."""
