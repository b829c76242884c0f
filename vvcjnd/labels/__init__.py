"""Subjective labels: raw JND samples -> screened samples -> one JND QP per image."""
