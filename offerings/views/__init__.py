"""Catalogue endpoints (DESIGN §8): what consumers browse and what providers manage."""
