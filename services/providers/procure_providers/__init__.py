"""Procure providers service."""
