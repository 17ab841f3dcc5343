"""The audit log: who did what, when, from where, with the old and the new values."""
