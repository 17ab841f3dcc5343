"""Cross-cutting pieces every capability uses: errors, clock, secrets, redaction."""
