"""Exact inference routines for structured predictors (pure PyTorch)."""
