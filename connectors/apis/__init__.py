"""Clients of the tools Dripline pulls from or sends to over HTTP, and the incremental-sync engine
they share."""
