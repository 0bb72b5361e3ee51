"""The AAS Registry and Discovery services (Part 2 v3.0) and the feeder that keeps them in step with a repository."""
