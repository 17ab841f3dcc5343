"""What every HTTP adapter shares: the service container, authentication and error mapping."""
