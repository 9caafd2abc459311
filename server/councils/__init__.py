"""Community councils (一组一会 · 居民议事会): councils, topics, meetings, votes, tasks, publication (docs/councils.md)."""
