"""Adapters for the wire protocols of other products' clients (thin: parse, call a service,
render)."""
