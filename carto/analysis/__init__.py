"""Pure analyses."""
