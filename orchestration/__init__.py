"""Headless core of orch-tui. Never imports textual or rich: front ends drive it through
commands and receive its typed events."""
