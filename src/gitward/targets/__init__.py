"""See shared/DESIGN.md for what this package does."""
