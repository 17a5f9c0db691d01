"""Conversations that leave and enter the app: export (Markdown, JSON, HTML) and import (our
JSON, LM Studio's conversations, ChatGPT's export), through one portable form (`portable`)."""
