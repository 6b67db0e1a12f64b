"""Procure contracts service."""
