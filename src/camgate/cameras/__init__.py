"""Cameras: their streams, credentials and the ingest that keeps them connected."""
