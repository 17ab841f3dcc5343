"""Live video: the running ingest of every camera stream and its outputs to viewers."""
