"""Mediation agreements (调解协议书): drafting, freezing, e-signatures, export and offline verification.

Domain modules (content, text, versions, document, keys, signing, workflow, manifest, pdf, verify,
performance) are plain Python with no aiohttp. ``api`` and ``views`` are the web layer; ``store`` persists.
"""
