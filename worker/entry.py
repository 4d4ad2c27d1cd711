"""The worker's entry point, written against Cloudflare's Python Workers SDK.

It runs unmodified on Cloudflare and under `edgeline dev`.
"""

from app import app
from workers import WorkerEntrypoint

from edgeline.adapters.cloudflare import serve


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return await serve(app, request, self.env, self.ctx)
