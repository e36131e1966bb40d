"""Transport: the one user of aiohttp's client. Attempts with their timeouts, the stream pump, the
shutdown drain and the pool of upstream sessions; it knows nothing about routing or the client."""
