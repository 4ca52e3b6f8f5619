"""One module per service family; ``registry.sender`` picks by provider type."""
