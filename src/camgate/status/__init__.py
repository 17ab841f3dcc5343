"""Server status: load, bandwidth and who is watching (the manual's Server Status tab)."""
