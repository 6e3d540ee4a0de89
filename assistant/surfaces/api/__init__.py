"""The REST service: `create_app` (app) wires the routers, the middleware and the error
handlers; the documents routes are in documents."""
