"""Procure notifications service."""
