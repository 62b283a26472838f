"""Batches: campaigns of recipients dialed under one agent, with pacing, windows and retries."""
