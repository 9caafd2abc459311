"""The councils JSON API (``/api/councils…``, docs/api.md "Councils")."""
