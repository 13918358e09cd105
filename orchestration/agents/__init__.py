"""Coder agent runners: one interface, three runners (OpenCode, command template, scripted)."""
