"""Compile a decoded configuration into the runtime objects requests use.

Compilers are registered by name, in order; each gets the decoded
``EdgeConfig`` and a :class:`Build` (env bindings, the platform transport,
the parts compiled before it) and returns its part of the
:class:`CompiledConfig`. Problems are collected with :meth:`Build.problem`
(field path and message) so that one run reports every mistake it can find;
any problem rejects the configuration whole.

Built in, in this order:

``origins``
    ``{name: transport}`` from ``edgeline.origin.build_origin_transport``
    (``None`` per origin when there is no platform transport, as in
    ``edgeline config validate``); names must be unique.
``ip_lists``
    ``{name: IPSet}`` (``edgeline.filtering.IPRangeSet``: sorted integer
    ranges, bisect lookup), which the rules compiler uses as they are.
``geo_policies``
    :class:`GeoPolicies`: policy by region, country and continent; origin
    names and country codes (ISO 3166-1) checked; a code claimed by two
    policies is an error.
``geo``
    An ``edgeline.personalize.GeoPlan``: compiled policies (locale
    negotiation, redirects checked against ``$.geo.redirect_hosts``, 451
    blocks), experiments, and nearest-origin groups whose members share the
    breakers of ``edgeline.origin.HEALTH``.
``rules``
    An ``edgeline.filtering.Ruleset`` (``edgeline.filtering.config``): the
    enabled rules compiled per phase with the IP lists, the rate limits
    (``$.rate_limits``) and authenticators (``$.authenticators``) they
    name, and the managed rules at ``managed_paranoia``; rule ids unique,
    every name a rule uses defined.
``router``
    An ``edgeline.routing.Router`` whose targets are handlers built from the
    routes' actions; a bad or conflicting route is a problem at its path.

A feature adds its own with ``@compiler("name")`` and reads its result from
``compiled["name"]``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import quote

from kv_schemas import EdgeConfig, Forward, GeoPolicy, Redirect, Respond, Route

from ..context import Context
from ..errors import ConfigError
from ..headers import Headers
from ..messages import Request, Response
from ..origin import build_origin_transport, forward
from ..routing import RouteError, Router
from ..types import Handler, Transport
from ._errors import ConfigInvalid, Problem
from ._ipset import IPListError, IPSet

__all__ = [
    "Build",
    "CompiledConfig",
    "Compiler",
    "GeoPolicies",
    "compile_config",
    "compiler",
    "compilers",
]

Compiler = Callable[[EdgeConfig, "Build"], Any]

_COMPILERS: dict[str, Compiler] = {}


def compiler(name: str) -> Callable[[Compiler], Compiler]:
    """Register the decorated function as the compiler of part ``name`` (replacing any)."""
    def register(function: Compiler) -> Compiler:
        _COMPILERS[name] = function
        return function
    return register


def compilers() -> dict[str, Compiler]:
    """Return the registered compilers, in the order they run."""
    return dict(_COMPILERS)


class Build:
    """What a compiler gets besides the configuration."""

    __slots__ = ("env", "base", "parts", "problems")

    def __init__(self, env: Any, base: Transport | None) -> None:
        self.env = env
        # The platform's transport; None when compiling only to validate.
        self.base = base
        self.parts: dict[str, Any] = {}
        self.problems: list[Problem] = []

    def problem(self, path: str, message: str) -> None:
        """Record a problem at the field ``path`` (``$.routes[3].action.origin``)."""
        self.problems.append(Problem(path, message))


class CompiledConfig:
    """A configuration ready to serve: the decoded data and every compiled part.

    Swapped in whole: a request reads the current one once and uses only it.
    """

    __slots__ = ("config", "parts", "router", "digest", "size", "routes")

    def __init__(self, config: EdgeConfig, parts: dict[str, Any], *, digest: str = "",
                 size: int = 0) -> None:
        self.config = config
        self.parts = parts
        self.router: Router | None = parts.get("router")
        self.digest = digest
        self.size = size
        self.routes = len(config.routes)

    def __getitem__(self, name: str) -> Any:
        return self.parts[name]

    def get(self, name: str, default: Any = None) -> Any:
        return self.parts.get(name, default)

    def __repr__(self) -> str:
        return (f"<CompiledConfig version={self.config.version} routes={self.routes} "
                f"parts={sorted(self.parts)}>")


def compile_config(
    config: EdgeConfig, *, env: Any = None, base: Transport | None = None,
    only: dict[str, Compiler] | None = None,
) -> CompiledConfig:
    """Run every compiler over ``config``; raise ConfigInvalid listing all problems."""
    build = Build(env, base)
    for name, function in (only if only is not None else _COMPILERS).items():
        try:
            build.parts[name] = function(config, build)
        except ConfigInvalid as exc:
            build.problems.extend(exc.problems)
        except Exception as exc:  # NOTE: a compiler bug must not take the worker down
            build.problem("$", f"compiling {name!r} failed: {type(exc).__name__}: {exc}")
    if build.problems:
        raise ConfigInvalid(build.problems)
    return CompiledConfig(config, build.parts)


def _duplicates(names: list[str], path: str, build: Build, what: str) -> None:
    seen: dict[str, int] = {}
    for index, name in enumerate(names):
        if name in seen:
            build.problem(f"{path}[{index}].name",
                          f"{what} {name!r} is defined twice (first at {path}[{seen[name]}])")
        else:
            seen[name] = index


# -- origins ---------------------------------------------------------------------------


@compiler("origins")
def _compile_origins(config: EdgeConfig, build: Build) -> dict[str, Transport | None]:
    _duplicates([o.name for o in config.origins], "$.origins", build, "origin")
    transports: dict[str, Transport | None] = {}
    for index, origin in enumerate(config.origins):
        if build.base is None:
            transports[origin.name] = None
            continue
        try:
            transports[origin.name] = build_origin_transport(origin, build.base, env=build.env)
        except (ConfigError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or str(exc)
            build.problem(f"$.origins[{index}]", reason)
    return transports


# -- IP lists -------------------------------------------------------------------------


@compiler("ip_lists")
def _compile_ip_lists(config: EdgeConfig, build: Build) -> dict[str, IPSet]:
    _duplicates([item.name for item in config.ip_lists], "$.ip_lists", build, "IP list")
    sets: dict[str, IPSet] = {}
    for index, item in enumerate(config.ip_lists):
        try:
            sets[item.name] = IPSet(item.entries, name=item.name)
        except IPListError as exc:
            build.problem(f"$.ip_lists[{index}].entries[{exc.index}]", exc.reason)
    return sets


# -- geo policies, personalization and experiments -------------------------------------


class GeoPolicies:
    """Geo policies indexed by region, country and continent; the most specific match wins."""

    __slots__ = ("by_region", "by_country", "by_continent", "policies")

    def __init__(self, policies: list[GeoPolicy]) -> None:
        self.policies = {p.name: p for p in policies}
        self.by_region: dict[str, GeoPolicy] = {c: p for p in policies for c in p.regions}
        self.by_country: dict[str, GeoPolicy] = {c: p for p in policies for c in p.countries}
        self.by_continent: dict[str, GeoPolicy] = {c: p for p in policies for c in p.continents}

    def for_location(self, country: str | None, continent: str | None = None,
                     region: str | None = None) -> GeoPolicy | None:
        """Return the policy for a client in ``country`` (``continent``, ``region``), if any."""
        policy = None
        if region and country:
            policy = self.by_region.get(f"{country}-{region}")
        if policy is None:
            policy = self.by_country.get(country or "")
        if policy is None and continent:
            policy = self.by_continent.get(continent)
        return policy

    def __len__(self) -> int:
        return len(self.policies)


def _check_countries(codes: tuple[str, ...], path: str, build: Build) -> None:
    from ..personalize._countries import known_country

    for position, code in enumerate(codes):
        country = code.partition("-")[0]
        if not known_country(country):
            build.problem(f"{path}[{position}]",
                          f"{country!r} is not an ISO 3166-1 alpha-2 country code "
                          "(nor XX, T1 or XK, which Cloudflare also sends)")


@compiler("geo_policies")
def _compile_geo(config: EdgeConfig, build: Build) -> GeoPolicies:
    policies = config.geo_policies
    _duplicates([p.name for p in policies], "$.geo_policies", build, "geo policy")
    origins = {o.name for o in config.origins}
    claimed: dict[tuple[str, str], str] = {}
    for index, policy in enumerate(policies):
        path = f"$.geo_policies[{index}]"
        if policy.origin is not None and policy.origin not in origins:
            build.problem(f"{path}.origin", f"no origin named {policy.origin!r} in $.origins")
        _check_countries(policy.countries, f"{path}.countries", build)
        _check_countries(policy.regions, f"{path}.regions", build)
        for field, codes in (("regions", policy.regions), ("countries", policy.countries),
                             ("continents", policy.continents)):
            for position, code in enumerate(codes):
                owner = claimed.setdefault((field, code), policy.name)
                if owner != policy.name:
                    build.problem(f"{path}.{field}[{position}]",
                                  f"{code} is already claimed by geo policy {owner!r}")
    return GeoPolicies(policies)


def _policy_view(policy: GeoPolicy, path: str, config: EdgeConfig, build: Build) -> Any:
    from ..personalize import Block, PolicyView, Redirect

    settings = config.geo
    redirect = None
    if policy.redirect is not None:
        r = policy.redirect
        try:
            redirect = Redirect(path_prefix=r.path_prefix, host=r.host, status=r.status,
                                paths=r.paths)
        except ConfigError as exc:
            build.problem(f"{path}.redirect", str(exc))
        if r.host is not None and r.host.lower() not in {h.lower() for h in settings.redirect_hosts}:
            build.problem(f"{path}.redirect.host",
                          f"{r.host!r} is not in $.geo.redirect_hosts (the allowlist of "
                          "hosts geo redirects may send clients to)")
            redirect = None
    block = None
    if policy.block is not None:
        b = policy.block
        block = Block(b.reason, b.blocked_by, b.paths)
    for name in policy.headers:
        if name.lower().startswith("x-edgeline-"):
            build.problem(f"{path}.headers", f"{name!r}: x-edgeline-* fields are the edge's own")
    try:
        return PolicyView(
            policy.name, locale=policy.locale or settings.default_locale,
            languages=policy.languages or settings.languages, currency=policy.currency,
            units=policy.units, content=policy.variant, headers=policy.headers,
            values=policy.values, redirect=redirect, block=block, origin=policy.origin)
    except ValueError as exc:
        build.problem(f"{path}.headers", str(exc))
        return None


def _compile_experiments(config: EdgeConfig, build: Build) -> list[Any]:
    from ..personalize import CompiledExperiment

    _duplicates([e.name for e in config.experiments], "$.experiments", build, "experiment")
    compiled: list[Any] = []
    for index, experiment in enumerate(config.experiments):
        path = f"$.experiments[{index}]"
        _duplicates([a.name for a in experiment.arms], f"{path}.arms", build, "arm")
        _check_countries(experiment.countries, f"{path}.countries", build)
        if not experiment.enabled:
            continue
        try:
            compiled.append(CompiledExperiment(
                experiment.name, [(a.name, a.weight) for a in experiment.arms],
                traffic=experiment.traffic, countries=experiment.countries,
                continents=experiment.continents, paths=experiment.paths, salt=experiment.salt))
        except ValueError as exc:
            build.problem(f"{path}.arms", str(exc))
    return compiled


def _compile_nearest(config: EdgeConfig, build: Build) -> dict[str, Any]:
    from ..origin import HEALTH
    from ..personalize import NearestMember, NearestOrigin

    groups = config.geo.nearest
    _duplicates([g.name for g in groups], "$.geo.nearest", build, "nearest-origin group")
    origins = {o.name: o for o in config.origins}
    transports = build.parts.get("origins", {})
    out: dict[str, Any] = {}
    for index, group in enumerate(groups):
        path = f"$.geo.nearest[{index}]"
        if group.name in origins:
            build.problem(f"{path}.name",
                          f"{group.name!r} is also an origin's name; a group needs its own")
        members: list[Any] = []
        for position, tagged in enumerate(group.origins):
            origin = origins.get(tagged.origin)
            if origin is None:
                build.problem(f"{path}.origins[{position}].origin",
                              f"no origin named {tagged.origin!r} in $.origins")
                continue
            transport = transports.get(tagged.origin)
            if transport is None:
                continue  # validating only: no transports were built
            b = origin.breaker
            # The same breakers build_origin_transport registered: health is shared.
            breakers = [HEALTH.breaker(origin.name, url, failures=b.failures,
                                       open_for=b.open_for, probes=b.probes,
                                       on_status=b.on_status) for url in origin.urls]
            members.append(NearestMember(origin.name, tagged.latitude, tagged.longitude,
                                         transport, breakers))
        if members and len(members) == len(group.origins):
            on_status = origins[group.origins[0].origin].retry.on_status
            out[group.name] = NearestOrigin(group.name, members, on_status=on_status)
    return out


@compiler("geo")
def _compile_personalization(config: EdgeConfig, build: Build) -> Any:
    """Compile policies, settings, experiments and nearest groups into a GeoPlan."""
    from ..personalize import GeoPlan, PolicyView

    settings = config.geo
    views: list[Any] = []
    for index, policy in enumerate(config.geo_policies):
        view = _policy_view(policy, f"$.geo_policies[{index}]", config, build)
        if view is not None:
            views.append((view, policy.regions, policy.countries, policy.continents))
    experiments = _compile_experiments(config, build)
    nearest = _compile_nearest(config, build)
    default = PolicyView("-", locale=settings.default_locale, languages=settings.languages)
    if build.problems:
        return None
    return GeoPlan(views, default=default, redirect_hosts=settings.redirect_hosts,
                   opt_out_cookie=settings.opt_out_cookie, exempt_bots=settings.exempt_bots,
                   opt_out_param=settings.opt_out_param,
                   experiments=experiments, id_cookie=settings.id_cookie,
                   exposure_cookie=settings.exposure_cookie, nearest=nearest)


# -- rules ----------------------------------------------------------------------------


@compiler("rules")
def _compile_rules(config: EdgeConfig, build: Build) -> Any:
    """Compile the rules (and managed-rule level) into an ``edgeline.filtering.Ruleset``."""
    _duplicate_ids: dict[str, int] = {}
    lists = {item.name for item in config.ip_lists}
    broken = False
    for index, rule in enumerate(config.rules):
        first = _duplicate_ids.setdefault(rule.id, index)
        if first != index:
            broken = True
            build.problem(f"$.rules[{index}].id",
                          f"rule id {rule.id!r} is used twice (first at $.rules[{first}])")
        if rule.match.ip_list is not None and rule.match.ip_list not in lists:
            broken = True
            build.problem(f"$.rules[{index}].match.ip_list",
                          f"no IP list named {rule.match.ip_list!r} in $.ip_lists")
    if broken:
        return None  # the configuration is rejected; compiling would report it twice
    from ..filtering.config import compile_rules_part

    return compile_rules_part(config, build)


# -- router ---------------------------------------------------------------------------

_PARAM: Final = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::[^{}]*)?\}")
_PLACEHOLDER: Final = re.compile(r"\{([^{}]*)\}")
# RFC 3986 §3.3: characters a path segment may carry unescaped ('/' kept for {x:path}).
_PATH_SAFE: Final = "/:@!$&'()*+,;=-._~"


def _respond(action: Respond) -> Handler:
    headers = Headers(action.headers)
    if "content-type" not in headers and action.body:
        headers["content-type"] = action.content_type
    body = action.body.encode()
    status = action.status

    async def respond(request: Request, ctx: Context) -> Response:
        return Response(body, status, headers.copy())

    return respond


def _redirect(action: Redirect, route: Route, path: str, build: Build) -> Handler | None:
    params = set(_PARAM.findall(route.path))
    location = action.location
    pieces: list[str | tuple[str]] = []
    last = 0
    for match in _PLACEHOLDER.finditer(location):
        name = match.group(1)
        if name not in params:
            build.problem(f"{path}.action.location",
                          f"{{{name}}} is not a parameter of the route path {route.path!r}")
            return None
        pieces.append(location[last:match.start()])
        pieces.append((name,))
        last = match.end()
    pieces.append(location[last:])
    status = action.status
    keep_query = action.keep_query
    static = len(pieces) == 1

    async def redirect(request: Request, ctx: Context) -> Response:
        if static:
            target = location
        else:
            target = "".join(
                p if isinstance(p, str) else quote(str(request.params.get(p[0], "")), _PATH_SAFE)
                for p in pieces)
        query = request.url.query
        if keep_query and query:
            target += ("&" if "?" in target else "?") + query
        return Response.redirect(target, status)

    return redirect


def _forward(action: Forward, path: str, build: Build, origins: set[str]) -> Handler | None:
    transports = build.parts.get("origins", {})
    if action.origin not in origins:
        build.problem(f"{path}.action.origin", f"no origin named {action.origin!r} in $.origins")
        return None
    transport = transports.get(action.origin)
    if transport is None:
        return _not_built
    handler: Handler = forward(transport, strip_prefix=action.strip_prefix)
    return handler


async def _not_built(request: Request, ctx: Context) -> Response:
    # Only in a configuration compiled to be validated, never served.
    return Response.problem(503, "Service Unavailable", "origin transports were not built")


@compiler("router")
def _compile_router(config: EdgeConfig, build: Build) -> Router:
    router = Router()
    origins = {o.name for o in config.origins}
    for index, route in enumerate(config.routes):
        path = f"$.routes[{index}]"
        action = route.action
        handler: Handler | None
        if isinstance(action, Forward):
            handler = _forward(action, path, build, origins)
        elif isinstance(action, Respond):
            try:
                handler = _respond(action)
            except ValueError as exc:
                build.problem(f"{path}.action.headers", str(exc))
                handler = None
        else:
            handler = _redirect(action, route, path, build)
        if handler is None:
            continue
        if handler is not _not_built:
            handler.__qualname__ = route.name or f"routes[{index}] {route.path}"
        for method in dict.fromkeys(route.methods):
            try:
                router.add(method, route.path, handler, host=route.host)
            except RouteError as exc:
                build.problem(f"{path}.path", str(exc))
                break
    if not build.problems:
        router.compile()
    return router
