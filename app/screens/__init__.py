"""Screens of the dashboard app: one screen a module."""
