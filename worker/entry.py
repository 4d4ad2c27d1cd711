"""The worker's entry point, written against Cloudflare's Python Workers SDK.

It runs unmodified on Cloudflare and under `edgeline dev`.
"""

from workers import WorkerEntrypoint

from edgeline.adapters.cloudflare import serve

from app import app


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return await serve(app, request, self.env, self.ctx)
