# workerd configuration for the Hono peer of the end-to-end benchmark.
#
# bench/e2e.py bundles worker.js (with hono) into a temporary folder next to
# a copy of this file and runs:
#   workerd serve config.capnp --socket-addr http=127.0.0.1:PORT
# with EDGELINE_BENCH_ORIGIN set to the origin's URL. request.cf is read from
# the cf-blob request header, as on Cloudflare it comes from the platform.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .honoWorker),
    # Loopback only: the origin runs on 127.0.0.1.
    (name = "loopback", network = (allow = ["local"])),
  ],
  sockets = [
    (name = "http", address = "127.0.0.1:8791", http = (cfBlobHeader = "cf-blob"),
     service = "main"),
  ],
);

const honoWorker :Workerd.Worker = (
  modules = [(name = "worker.js", esModule = embed "worker.js")],
  compatibilityDate = "2025-09-29",
  bindings = [(name = "ORIGIN_URL", fromEnvironment = "EDGELINE_BENCH_ORIGIN")],
  globalOutbound = "loopback",
);
