"""Server administration: the settings tree of the manual's tabs."""
