"""Pages and htmx fragments, one module per page: HTTP ↔ services and query code."""
