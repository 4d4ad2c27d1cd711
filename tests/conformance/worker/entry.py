"""The conformance worker's entry point: the example worker's, plus test routes."""

from routes import app
from workers import WorkerEntrypoint

from edgeline.adapters.cloudflare import serve


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return await serve(app, request, self.env, self.ctx)
