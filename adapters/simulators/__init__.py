"""Simulated plant devices for the demo and the tests (real protocol servers, simulated signals)."""
