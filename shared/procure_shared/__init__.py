"""Procure shared plumbing."""
