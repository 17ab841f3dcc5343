"""Investigations: exports of recordings kept encrypted at rest, and the signed native export."""
