"""Views: named camera layouts, and the built-in "All cameras" view."""
