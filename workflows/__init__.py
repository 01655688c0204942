"""Workflows, background jobs and the job queue."""
