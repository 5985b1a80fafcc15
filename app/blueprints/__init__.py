"""Blueprints: thin routes that parse input, call a service and render."""
