"""LM Studio's native REST API v1 (`/api/v1/...`): schema, parsing, routes."""
