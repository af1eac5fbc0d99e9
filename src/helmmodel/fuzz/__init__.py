"""Long fuzz campaigns: workers, chunks, swarm configurations, and the campaign's report."""
