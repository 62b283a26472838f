"""Read-only figures across providers, agents, batches and routing profiles, from the call rollups."""
