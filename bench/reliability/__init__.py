"""Scenarios of the fault suite (bench/reliability.py): each module exposes `run(ctx, args) -> Result`."""
