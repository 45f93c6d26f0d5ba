"""Loopback fakes of external APIs, speaking their wire format, for connector tests."""
