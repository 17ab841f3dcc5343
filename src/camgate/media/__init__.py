"""The media engine: sources, hubs, fMP4 muxing, snapshots.

This package is a library: it imports no web framework and no database code.
"""
