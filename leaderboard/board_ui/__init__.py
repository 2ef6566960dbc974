"""Shared pieces of the leaderboard pages: database access, tables, charts, arena column."""
