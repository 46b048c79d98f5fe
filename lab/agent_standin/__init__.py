"""Build the lab stand-in for the Amazon CloudWatch agent (not the real agent; see README.md)."""
