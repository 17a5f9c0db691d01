"""OpenAI's Responses API (`/v1/responses`): schema, parsing, routes."""
