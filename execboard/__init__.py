"""Execboard's Python client and CLI (HTTP only; importable without Django)."""
