"""Users, roles, sessions and who may see which camera."""
