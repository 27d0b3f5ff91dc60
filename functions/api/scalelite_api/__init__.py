"""The API function: BBB API (and the optional admin JSON API) as a FastAPI app behind Mangum."""
