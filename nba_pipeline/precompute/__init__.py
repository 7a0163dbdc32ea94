"""Precompute phase: per-player rolling windows and context that prediction needs, from analytics history."""
