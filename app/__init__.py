"""Specula: a desktop chat app for local LLMs with speculative decoding you can see."""

__version__ = "0.1.0"
