"""Shared code of every Scalelite Serverless function: settings, BBB protocol, domain rules, services, data access."""
