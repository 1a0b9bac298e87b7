"""Test data built in code (prediction logs, statistics, Rollout objects) and the readers
of what modelrail writes."""
