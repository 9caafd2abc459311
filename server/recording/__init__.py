"""Recordings, minutes and the session record: tables, API, pages, crash recovery and retention."""
